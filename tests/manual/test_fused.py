"""The manual engine's fused optimizers against torch.optim and the from-scratch rules, step by
step; their checkpoints move to and from torch.optim; states they cannot continue are refused
in one line."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from looplab.config import OPTIMIZERS, Config
from looplab.errors import ConfigError
from looplab.manual import fused
from looplab.manual.engine import ManualLossFn, ManualModel, manual_engine
from looplab.models.losses import TaskLoss
from looplab.models.mlp import ModelSpec, build_model
from looplab.run.optimizers import build_optimizer, build_torch_optimizer

STEPS = 200
SPEC = ModelSpec(3, 1, (5, 4), "tanh")


def _data() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 3, generator=g, dtype=torch.float64)
    return X, torch.sin(X.sum(dim=1))


def _config(name: str, weight_decay: float = 0.0) -> Config:
    lr = 0.05 if name in ("sgd", "momentum", "nesterov") else 0.01
    return Config(optimizer=name, lr=lr, weight_decay=weight_decay)


def _manual(config: Config) -> tuple[nn.Module, ManualModel, ManualLossFn, fused.FusedOptimizer]:
    model = build_model(SPEC, seed=0).double()
    forward, loss_fn = manual_engine(model, "regression")
    optimizer = build_optimizer(model.parameters(), config, forward.engine.flat)
    assert isinstance(optimizer, fused.FusedOptimizer)
    return model, forward, loss_fn, optimizer


def _steps(forward: nn.Module, loss_fn: object, optimizer: object, steps: range) -> list[float]:
    X, y = _data()
    losses = []
    for step in steps:
        rows = slice((step * 16) % 64, (step * 16) % 64 + 16)  # mini-batches: noisy gradients
        loss = loss_fn(forward(X[rows]), y[rows])  # type: ignore[operator]
        optimizer.zero_grad()  # type: ignore[attr-defined]
        loss.backward()
        optimizer.step()  # type: ignore[attr-defined]
        losses.append(loss.item())
    return losses


def _weights(model: nn.Module) -> Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fused_equals_torch_optim_and_scratch_step_by_step(name: str, weight_decay: float) -> None:
    """Manual engine + fused rule against autograd + torch.optim (single-tensor, the
    reference) and autograd + the readable rule: every one of 100 steps, float64."""
    config = _config(name, weight_decay)
    model, forward, loss_fn, optimizer = _manual(config)
    theirs = build_model(SPEC, seed=0).double()
    reference = build_torch_optimizer(theirs.parameters(), config)
    for group in reference.param_groups:  # the plain for-loop implementation
        group["fused"], group["foreach"] = None, False
    readable = build_model(SPEC, seed=0).double()
    rules = build_optimizer(readable.parameters(), config.replace(impl="scratch"))
    first = None
    for step in range(STEPS // 2):
        mine = _steps(forward, loss_fn, optimizer, range(step, step + 1))[0]
        ref = _steps(theirs, TaskLoss("regression"), reference, range(step, step + 1))[0]
        _steps(readable, TaskLoss("regression"), rules, range(step, step + 1))
        first = ref if first is None else first
        assert mine == pytest.approx(ref, rel=0, abs=1e-10), step
        torch.testing.assert_close(_weights(model), _weights(theirs), rtol=0, atol=1e-10)
        torch.testing.assert_close(_weights(model), _weights(readable), rtol=0, atol=1e-10)
    assert first is not None and ref < 0.5 * first  # it learned: the comparison is not idle


def test_every_parameter_is_updated_from_the_one_flat_array() -> None:
    """The engine's p.grad are views of one array, and the update touches the weights only
    through the flat array the parameters are views of."""
    model, forward, loss_fn, optimizer = _manual(_config("adam"))
    flat = forward.engine.flat
    _steps(forward, loss_fn, optimizer, range(1))
    for p, view in zip(model.parameters(), flat.grad_tensors, strict=True):
        assert p.grad is view  # no copy: the layers wrote straight into the flat gradient
        start = flat.values.ctypes.data
        assert start <= p.data_ptr() < start + flat.values.nbytes  # the weights are the array
    assert optimizer.gradient() is flat.grads


def test_gradients_set_by_hand_are_used() -> None:
    """A p.grad that is not the engine's view (set by a user) is what the step uses."""
    model, _, _, optimizer = _manual(Config(optimizer="sgd", lr=0.5))
    before = _weights(model).clone()
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    torch.testing.assert_close(_weights(model), before - 0.5)
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    optimizer.step()  # no gradients: nothing moves, as with torch.optim
    torch.testing.assert_close(_weights(model), before - 0.5)
    next(model.parameters()).grad = torch.ones(5, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="all need a grad"):
        optimizer.step()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_checkpoints_move_between_fused_and_torch_optim(name: str) -> None:
    """Half a run fused, the rest in torch.optim from its state_dict, and the other way round:
    both end where an uninterrupted torch.optim run ends."""
    config = _config(name, weight_decay=0.01)
    theirs = build_model(SPEC, seed=0).double()
    whole = build_torch_optimizer(theirs.parameters(), config)
    _steps(theirs, TaskLoss("regression"), whole, range(STEPS))

    model, forward, loss_fn, optimizer = _manual(config)
    _steps(forward, loss_fn, optimizer, range(100))
    saved = optimizer.state_dict()
    assert saved["param_groups"][0]["params"] == list(range(6))
    torch_again = build_torch_optimizer(model.parameters(), config.replace(lr=1.0))
    torch_again.load_state_dict(saved)  # lr comes back from the state
    _steps(model, TaskLoss("regression"), torch_again, range(100, STEPS))
    torch.testing.assert_close(_weights(model), _weights(theirs), rtol=0, atol=1e-10)

    half = build_model(SPEC, seed=0).double()
    first = build_torch_optimizer(half.parameters(), config)
    _steps(half, TaskLoss("regression"), first, range(100))
    forward, loss_fn = manual_engine(half, "regression")
    second = build_optimizer(half.parameters(), config.replace(lr=1.0), forward.engine.flat)
    second.load_state_dict(first.state_dict())
    assert second.param_groups[0]["lr"] == config.lr
    _steps(forward, loss_fn, second, range(100, STEPS))
    torch.testing.assert_close(_weights(half), _weights(theirs), rtol=0, atol=1e-10)


def test_fused_state_round_trip_resumes_bitwise() -> None:
    config = _config("adamw", weight_decay=0.01)
    whole, forward, loss_fn, optimizer = _manual(config)
    _steps(forward, loss_fn, optimizer, range(STEPS))
    half, forward, loss_fn, first = _manual(config)
    _steps(forward, loss_fn, first, range(100))
    second = build_optimizer(half.parameters(), config.replace(lr=1.0), forward.engine.flat)
    second.load_state_dict(first.state_dict())
    assert isinstance(second, fused.FusedAdamW) and second.steps == 100
    _steps(forward, loss_fn, second, range(100, STEPS))
    assert torch.equal(_weights(half), _weights(whole))


def _saved_adam() -> dict[str, object]:
    model = build_model(SPEC, seed=0).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    _steps(model, TaskLoss("regression"), optimizer, range(3))
    return optimizer.state_dict()


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("adam", {}, "the saved optimizer has amsgrad=True, which looplab's FusedAdam does not do"),
        ("momentum", {"amsgrad": False}, "holds exp_avg, exp_avg_sq, max_exp_avg_sq, not what"),
        ("adam", {"drop": 1}, "is not for this model's 6 parameters"),
    ],
)
def test_a_state_it_cannot_continue_is_refused_in_one_line(
    name: str, change: dict[str, object], message: str
) -> None:
    saved = _saved_adam()
    groups = saved["param_groups"]
    assert isinstance(groups, list)
    if "amsgrad" in change:
        groups[0]["amsgrad"] = change["amsgrad"]
    if "drop" in change:
        groups[0]["params"] = groups[0]["params"][1:]
    *_, optimizer = _manual(_config(name))
    with pytest.raises(ConfigError) as info:
        optimizer.load_state_dict(saved)
    assert message in str(info.value) and "\n" not in str(info.value)
