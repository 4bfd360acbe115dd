"""The manual engine trains the same MLP as autograd does, through ``fit`` and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from looplab.cli import run
from looplab.config import Config
from looplab.data.prepared import PreparedData
from looplab.data.split import Split
from looplab.errors import ConfigError
from looplab.loop.history import History
from looplab.manual.engine import ManualLoss, manual_engine
from looplab.models.losses import TaskLoss
from looplab.models.mlp import ModelSpec, build_model
from looplab.run.fit import fit


def assert_same_history(a: History, b: History, tol: float = 1e-4) -> None:
    rows_a, rows_b = a.without_timing(), b.without_timing()
    assert len(rows_a) == len(rows_b) > 0
    for ra, rb in zip(rows_a, rows_b, strict=True):
        assert ra.keys() == rb.keys()
        for key in ra:
            assert abs(ra[key] - rb[key]) <= tol * max(1.0, abs(rb[key])), (key, ra, rb)


def test_cli_manual_engine_gives_the_autograd_history(tmp_path: Path) -> None:
    """`looplab train --engine manual` and `--engine autograd`: same 5 epochs to 1e-4."""
    histories = {}
    for engine in ("manual", "autograd"):
        flags = ["--epochs", "5", "--n", "300", "--hidden", "16,16", "--activation", "tanh"]
        code = run(["train", *flags, "--engine", engine, "--out", str(tmp_path), "--name", engine])
        assert code == 0
        histories[engine] = History.from_csv(tmp_path / engine / "history.csv")
    assert len(histories["manual"]) == 5
    assert histories["manual"].last["train_loss"] < histories["manual"][0]["train_loss"]
    assert_same_history(histories["manual"], histories["autograd"])


@pytest.mark.parametrize(
    ("dataset", "activation", "optimizer"),
    [("blobs", "relu", "sgd"), ("sine", "sigmoid", "momentum"), ("moons", "leaky_relu", "adamw")],
)
def test_fit_histories_agree_for_each_task(dataset: str, activation: str, optimizer: str) -> None:
    from looplab.data.prepared import load_prepared
    from looplab.run.build import model_spec

    config = Config(
        dataset=dataset,
        n=240,
        epochs=5,
        activation=activation,
        optimizer=optimizer,
        lr=0.05,
        batch_size=16,
        hidden=[8, 8],
        device="cpu",
    ).validate()
    data = load_prepared(config)
    manual, autograd = (
        fit(build_model(model_spec(config, data), seed=0), data, config.replace(engine=engine))
        for engine in ("manual", "autograd")
    )
    assert_same_history(manual, autograd)


def test_the_manual_model_is_the_mlp_for_optimizers_and_checkpoints() -> None:
    model = build_model(ModelSpec(3, 2, (4,), "relu"), seed=0)
    manual, loss_fn = manual_engine(model, "multiclass")
    assert list(manual.state_dict()) == list(model.state_dict())
    assert [id(p) for p in manual.parameters()] == [id(p) for p in model.parameters()]
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1])
    loss = loss_fn(manual(x), y)
    assert isinstance(loss, ManualLoss) and loss.shape == ()
    assert abs(loss.item() - TaskLoss("multiclass")(model(x), y).item()) < 1e-6
    loss.backward()
    first = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    assert len(first) == 4
    loss_fn(manual(x), y).backward()  # no zero_grad: gradients add up, as with autograd
    for p, g in zip(model.parameters(), first, strict=True):
        assert p.grad is not None
        torch.testing.assert_close(p.grad, 2 * g)
    # an optimizer step moves the weights the engine reads (numpy views, shared memory)
    before = manual(x).clone()
    with torch.no_grad():
        model.linear(1).weight.add_(1.0)
    assert not torch.equal(manual(x), before)
    model.linear(1).weight.data = torch.zeros(4, 3)  # new memory under the same parameter
    np.testing.assert_allclose(manual(x).numpy(), model(x).detach().numpy(), rtol=1e-6)
    assert torch.equal(manual(x)[0], manual(x)[1])  # zero first layer: every row alike


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ModelSpec(2, 1, (4,), "gelu"), "the manual engine has no 'gelu' activation"),
        (ModelSpec(2, 1, (4,), "relu", dropout=0.2), "no dropout; use --dropout 0"),
        (ModelSpec(2, 1, (4,), "relu", norm="batch"), "no batch normalization"),
        (ModelSpec(2, 1, (4, 4), "relu", residual=True), "no residual connections"),
    ],
)
def test_unsupported_models_get_a_one_line_message(spec: ModelSpec, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        manual_engine(build_model(spec, seed=0), "binary")
    assert "\n" not in str(info.value) and "--engine autograd" in str(info.value)


def test_cli_refuses_dropout_with_the_manual_engine_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--engine", "manual", "--dropout", "0.3", "--epochs", "1", "--n", "60"]
    assert run([*args, "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the manual engine has no dropout") and "\n" not in err
    assert not (tmp_path / "runs").exists()  # found before a run directory, not a failed one


def test_manual_engine_with_a_torch_optimizer_on_in_memory_float64_data() -> None:
    """A model in float64 trains in float64: the engine follows the parameters' dtype."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 3, generator=g, dtype=torch.float64)
    y = X[:, 0] - 2 * X[:, 1]
    data = PreparedData(train=Split(X, y), val=None, task="regression")
    config = Config(epochs=30, optimizer="adam", lr=0.02, batch_size=16, device="cpu")
    manual, autograd = (
        fit(
            build_model(ModelSpec(3, 1, (8,), "tanh"), seed=1).double(),
            data,
            config.replace(engine=engine),
        )
        for engine in ("manual", "autograd")
    )
    assert manual.last["train_loss"] < 0.1 * manual[0]["train_loss"]
    assert_same_history(manual, autograd, tol=1e-9)


def test_blas_runs_on_one_thread_inside_the_engine_and_is_restored_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from threadpoolctl import threadpool_limits

    from looplab.manual import layers
    from looplab.manual.engine import blas_libraries

    libs = blas_libraries()
    if not libs:
        pytest.skip("numpy has no BLAS library threadpoolctl can see")
    seen: list[int] = []
    original = layers.Linear.forward

    def recording(self: layers.Linear, x: layers.Array) -> layers.Array:
        seen.append(libs[0].get_num_threads())
        return original(self, x)

    monkeypatch.setattr(layers.Linear, "forward", recording)
    manual, _ = manual_engine(build_model(ModelSpec(3, 1, (4,), "relu"), seed=0), "binary")
    with threadpool_limits(limits=2, user_api="blas"):
        manual(torch.randn(5, 3))
        assert libs[0].get_num_threads() == 2
    assert seen == [1, 1]  # both linear layers ran single-threaded


def test_the_manual_engine_refuses_parameters_off_the_cpu() -> None:
    model = build_model(ModelSpec(3, 1, (4,), "relu"), seed=0).to("meta")
    with pytest.raises(ConfigError, match=r"runs on the CPU \(numpy\); use --device cpu"):
        manual_engine(model, "binary")
