"""Mixed precision and compilation: bf16 autocast on the CPU, fp16 loss scaling (its machinery
runs on the CPU here; the real fp16 path needs CUDA and is skipped without it), torch.compile."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from looplab import pipeline
from looplab.config import Config
from looplab.errors import ConfigError
from looplab.models import ModelSpec, TaskLoss, build_model
from looplab.run.build import check_hardware, pick_device
from looplab.run.precision import ScaledLoss, ScaledOptimizer, autocast_forward, compile_model

NO_CUDA = "needs a CUDA GPU (none on this machine)"


def test_bf16_reaches_the_float32_accuracy_of_the_default_job_within_one_point() -> None:
    results = {p: pipeline.train(Config(precision=p, device="cpu"), write=False)
               for p in ("fp32", "bf16")}  # fmt: skip
    accuracy = {p: r.final["validation"]["accuracy"] for p, r in results.items()}
    assert accuracy["fp32"] > 0.9  # the default job learns
    assert abs(accuracy["bf16"] - accuracy["fp32"]) <= 0.01
    # bf16 really ran: the two runs' losses are close but not the same numbers
    fp32, bf16 = (results[p].history.column("train_loss") for p in ("fp32", "bf16"))
    assert fp32 != bf16
    assert abs(fp32[-1] - bf16[-1]) < 0.02


def test_autocast_computes_in_bf16_returns_float32_and_keeps_the_state_dict() -> None:
    plain = build_model(ModelSpec(4, 3, (64, 64)), seed=0)
    mixed = autocast_forward(build_model(ModelSpec(4, 3, (64, 64)), seed=0),
                             torch.device("cpu"), "bf16")  # fmt: skip
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    exact, low = plain(x), mixed(x)
    assert low.dtype == torch.float32
    gap = float((exact - low).detach().abs().max())
    assert 1e-6 < gap < 0.05  # bfloat16 has 8 bits of mantissa: ~3 significant digits
    assert list(plain.state_dict()) == list(mixed.state_dict())


def test_loss_scaling_keeps_the_loss_scales_the_gradient_and_skips_an_inf_step() -> None:
    model = nn.Linear(3, 2)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    loss_fn = ScaledLoss(TaskLoss("multiclass"), scaler)
    inner = torch.optim.SGD(model.parameters(), lr=0.1)
    opt = ScaledOptimizer(inner, scaler)
    x, y = torch.randn(8, 3), torch.tensor([0, 1] * 4)
    loss = loss_fn(model(x), y)
    assert loss.item() == pytest.approx(TaskLoss("multiclass")(model(x), y).item(), rel=1e-7)
    loss.backward()
    true = torch.autograd.grad(TaskLoss("multiclass")(model(x), y), model.weight)[0]
    assert model.weight.grad is not None
    assert torch.allclose(model.weight.grad, 1024.0 * true, rtol=1e-5)
    before = model.weight.detach().clone()
    opt.step()  # unscales: the step is lr * true gradient
    assert torch.allclose(model.weight.detach(), before - 0.1 * true, rtol=1e-5, atol=1e-7)
    opt.zero_grad()
    loss_fn(model(x), y).backward()
    assert model.weight.grad is not None
    model.weight.grad[0, 0] = float("inf")  # an overflow: the step is skipped, S halved
    kept = model.weight.detach().clone()
    opt.step()
    assert torch.equal(model.weight.detach(), kept)
    assert scaler.get_scale() == 512.0
    assert "grad_scaler" in opt.state_dict() and "param_groups" in opt.state_dict()


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a CUDA machine fp16 is available")
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"precision": "fp16"}, "precision 'fp16' needs a CUDA GPU"),
        ({"sync_bn": True, "norm": "batch"}, "sync_bn needs CUDA GPUs"),
    ],
)
def test_cuda_only_features_are_refused_in_one_line_on_the_cpu(
    fields: dict[str, object], message: str
) -> None:
    config = Config(**fields).validate()  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message) as info:
        check_hardware(config, pick_device(config.device))
    assert "\n" not in str(info.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_fp16_with_a_gradient_scaler_trains_on_cuda() -> None:
    runs = {p: pipeline.train(Config(precision=p, device="cuda", epochs=30), write=False)
            for p in ("fp32", "fp16")}  # fmt: skip
    accuracy = {p: r.final["validation"]["accuracy"] for p, r in runs.items()}
    assert abs(accuracy["fp16"] - accuracy["fp32"]) <= 0.02


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_a_cuda_run_saves_and_restores_the_cuda_generator() -> None:
    from looplab.loop.snapshot import global_rngs, set_global_rngs

    torch.zeros(1, device="cuda")  # CUDA in use
    saved = global_rngs()
    assert "cuda" in saved
    first = torch.rand(3, device="cuda")
    set_global_rngs(saved)
    assert torch.equal(first, torch.rand(3, device="cuda"))


def test_compile_keeps_the_module_and_its_state_dict() -> None:
    model = build_model(ModelSpec(2, 1, (8,)), seed=0)
    names = list(model.state_dict())
    assert compile_model(model) is model
    assert list(model.state_dict()) == names  # no _orig_mod. prefix: checkpoints unchanged


@pytest.mark.slow
def test_compiled_training_computes_what_eager_training_computes() -> None:
    """torch.compile needs a C++ compiler on the CPU and takes tens of seconds: slow."""
    runs = [pipeline.train(Config(compile=c, epochs=3, device="cpu"), write=False)
            for c in (False, True)]  # fmt: skip
    eager, compiled = (r.history.column("train_loss") for r in runs)
    assert compiled == pytest.approx(eager, rel=1e-4)
