"""The from-scratch optimizers against torch.optim: same problem, 200 steps, float64, 1e-12."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from looplab.config import OPTIMIZERS, Config
from looplab.loop.protocols import Optimizer
from looplab.manual import optim as scratch
from looplab.run.optimizers import build_optimizer, build_torch_optimizer

STEPS = 200


def _problem() -> tuple[nn.Module, Tensor, Tensor]:
    """A small tanh MLP regression in float64: curved enough that every rule differs."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    X = torch.randn(64, 3, dtype=torch.float64)
    y = torch.sin(X.sum(dim=1, keepdim=True))
    return model, X, y


def _train(
    model: nn.Module, optimizer: Optimizer, X: Tensor, y: Tensor, steps: range = range(STEPS)
) -> list[float]:
    losses = []
    for step in steps:
        rows = slice((step * 16) % 64, (step * 16) % 64 + 16)  # mini-batches: noisy gradients
        loss = nn.functional.mse_loss(model(X[rows]), y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_scratch_equals_torch_over_200_steps(name: str, weight_decay: float) -> None:
    config = Config(
        optimizer=name,
        lr=0.05 if name in ("sgd", "momentum", "nesterov") else 0.01,
        weight_decay=weight_decay,
    )
    theirs, X, y = _problem()
    mine, _, _ = _problem()
    torch_losses = _train(theirs, build_torch_optimizer(theirs.parameters(), config), X, y)
    scratch_opt = build_optimizer(mine.parameters(), config.replace(impl="scratch"))
    assert isinstance(scratch_opt, scratch.Optimizer)
    scratch_losses = _train(mine, scratch_opt, X, y)
    assert torch_losses[-1] < 0.5 * torch_losses[0]  # it did learn: the comparison is not idle
    for a, b in zip(theirs.parameters(), mine.parameters(), strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
    assert scratch_losses == pytest.approx(torch_losses, rel=0, abs=1e-12)


def test_rules_differ_so_the_comparison_can_fail() -> None:
    """Momentum and Nesterov (and Adam and AdamW with decay) end in different places."""
    ends = {}
    for name in ("momentum", "nesterov", "adam", "adamw"):
        model, X, y = _problem()
        config = Config(optimizer=name, lr=0.01, weight_decay=0.05, impl="scratch")
        _train(model, build_optimizer(model.parameters(), config), X, y)
        ends[name] = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert (ends["momentum"] - ends["nesterov"]).abs().max() > 1e-4
    assert (ends["adam"] - ends["adamw"]).abs().max() > 1e-4


def test_state_dict_round_trip_resumes_exactly() -> None:
    """Saving after 100 steps and loading into a fresh optimizer gives the uninterrupted run."""
    whole, X, y = _problem()
    opt = scratch.Adam(whole.parameters(), lr=0.01, weight_decay=0.01)
    _train(whole, opt, X, y)

    half, _, _ = _problem()
    first = scratch.Adam(half.parameters(), lr=0.01, weight_decay=0.01)
    _train(half, first, X, y, steps=range(100))
    saved = first.state_dict()
    assert saved["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert float(saved["state"][0]["step"]) == 100
    second = scratch.Adam(half.parameters(), lr=0.5)  # wrong lr: the state restores it
    second.load_state_dict(saved)
    assert second.param_groups[0]["lr"] == 0.01
    _train(half, second, X, y, steps=range(100, STEPS))
    for a, b in zip(whole.parameters(), half.parameters(), strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=0)


def test_load_state_dict_rejects_other_parameters() -> None:
    model, _, _ = _problem()
    saved = scratch.SGD(model.parameters(), lr=0.1).state_dict()
    other = scratch.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="different set of parameters"):
        other.load_state_dict(saved)


def test_lr_is_read_from_param_groups_each_step() -> None:
    """Schedules change group['lr']; the next step must use the new value."""
    p = torch.zeros(1, requires_grad=True)
    opt = scratch.SGD([p], lr=1.0)
    p.grad = torch.ones(1)
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    assert p.item() == pytest.approx(-1.5)
    opt.zero_grad()
    assert p.grad is None
