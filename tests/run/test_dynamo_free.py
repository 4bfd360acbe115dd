"""The dynamo-free optimizers are ``torch.optim``'s, bit for bit, and spare a run the import of
``torch._dynamo`` (issue 15: a third of a one-epoch ``looplab train``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from looplab.config import Config
from looplab.run import dynamo_free
from looplab.run.optimizers import build_torch_optimizer, fastest_implementation

TORCH_CLASSES = {
    "sgd": torch.optim.SGD,
    "momentum": torch.optim.SGD,
    "nesterov": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))


def _steps(model: nn.Module, optimizer: torch.optim.Optimizer, n: int, seed: int) -> None:
    data = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x = torch.randn(16, 3, generator=data)  # (batch, features)
        y = torch.randn(16, 2, generator=data)
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


def _torch_twin(name: str, model: nn.Module, config: Config) -> torch.optim.Optimizer:
    """The plain ``torch.optim`` optimizer build_torch_optimizer stands for."""
    kwargs: dict[str, object] = {"lr": config.lr, "weight_decay": config.weight_decay}
    if name in ("momentum", "nesterov"):
        kwargs |= {"momentum": config.momentum, "nesterov": name == "nesterov"}
    params: list[torch.Tensor] = list(model.parameters())
    kwargs |= fastest_implementation(name, params)
    optimizer: torch.optim.Optimizer = TORCH_CLASSES[name](params, **kwargs)
    return optimizer


def test_this_torch_keeps_the_undecorated_methods() -> None:
    # if a torch upgrade drops them, the builder silently falls back to torch.optim (correct,
    # but ~1.5 s slower to start): this test says so
    assert dynamo_free.AVAILABLE


@pytest.mark.parametrize("name", list(TORCH_CLASSES))
def test_each_optimizer_equals_torch_optim_bitwise_and_shares_its_state_dict(name: str) -> None:
    config = Config(optimizer=name, lr=0.05, weight_decay=0.01, momentum=0.9)
    ours_model, theirs_model = _model(), _model()
    ours = build_torch_optimizer(ours_model.parameters(), config)
    theirs = _torch_twin(name, theirs_model, config)
    assert isinstance(ours, TORCH_CLASSES[name]) and type(ours) is not type(theirs)
    _steps(ours_model, ours, 20, seed=1)
    _steps(theirs_model, theirs, 20, seed=1)
    for a, b in zip(ours_model.parameters(), theirs_model.parameters(), strict=True):
        assert torch.equal(a, b)
    # a checkpoint written by either continues in the other, identically
    again_model = _model()
    again_model.load_state_dict(theirs_model.state_dict())
    again = build_torch_optimizer(again_model.parameters(), config)
    again.load_state_dict(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    _steps(again_model, again, 10, seed=2)
    _steps(theirs_model, theirs, 10, seed=2)
    for a, b in zip(again_model.parameters(), theirs_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_the_learning_rate_schedulers_take_them() -> None:
    model = _model()
    optimizer = build_torch_optimizer(model.parameters(), Config(optimizer="adam", lr=0.1))
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(4):
        _steps(model, optimizer, 1, seed=0)
        schedule.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs == [0.1, 0.05, 0.05, 0.025]


def test_the_step_updates_under_no_grad_and_restores_the_mode() -> None:
    model = _model()
    optimizer = build_torch_optimizer(model.parameters(), Config(optimizer="sgd"))
    with torch.enable_grad():  # an in-place update of a leaf under grad mode would raise
        _steps(model, optimizer, 1, seed=0)
        assert torch.is_grad_enabled()
    assert all(p.grad_fn is None and p.requires_grad for p in model.parameters())


def test_a_training_command_no_longer_imports_the_compiler(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from looplab.cli import app
        app(["train", "--epochs", "1", "--out", sys.argv[1]], standalone_mode=False)
        print("torch._dynamo" in sys.modules, "torch.optim" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False True"
