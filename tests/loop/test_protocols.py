"""What ``looplab.loop.fit`` is given fits its Protocols, torch's objects and looplab's alike.

The assignments to Protocol-typed variables are checked by mypy (tests are type-checked in
CI); each object is then driven through its Protocol's methods only.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from looplab.config import OPTIMIZERS, SCHEDULES, Config
from looplab.data import Batches, LoaderBatches
from looplab.errors import ConfigError
from looplab.loop.protocols import BatchSource, LossFn, Optimizer, Scheduler
from looplab.manual import optim as scratch
from looplab.models import TaskLoss
from looplab.run.optimizers import build_optimizer
from looplab.run.schedules import build_scheduler


def test_torch_and_looplab_optimizers_are_loop_optimizers() -> None:
    p = nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizers: list[Optimizer] = [
        torch.optim.SGD([p], lr=0.1),
        scratch.Adam([p], lr=0.1),
        *(build_optimizer([p], Config(optimizer=name, impl="scratch")) for name in OPTIMIZERS),
        *(build_optimizer([p], Config(optimizer=name)) for name in OPTIMIZERS),
    ]
    for optimizer in optimizers:
        before = p.detach().clone()
        optimizer.zero_grad()
        (p * p).sum().backward()  # gradient 2p: every rule moves p towards 0
        optimizer.step()
        assert p.detach().abs().sum() < before.abs().sum(), optimizer
        optimizer.load_state_dict(optimizer.state_dict())
        assert optimizer.param_groups[0]["lr"] > 0


@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_every_schedule_is_a_loop_scheduler_and_keeps_its_plan(impl: str) -> None:
    config = Config(epochs=6, impl=impl, lr=0.1)
    schedules: dict[str, tuple[Optimizer, Scheduler]] = {}
    for name in SCHEDULES:
        optimizer = build_optimizer([nn.Parameter(torch.zeros(1))], config)
        built = build_scheduler(optimizer, config.replace(schedule=name), steps_per_epoch=2)
        assert (built is None) == (name == "constant")
        if built is not None:
            schedules[name] = optimizer, built
    for optimizer, schedule in schedules.values():
        optimizer.step()  # no gradient: no change, but torch wants a step before the schedule's
        schedule.after_update()
        schedule.after_epoch(1.0)
        schedule.load_state_dict(schedule.state_dict())
    other = build_scheduler(
        build_optimizer([nn.Parameter(torch.zeros(1))], config),
        config.replace(schedule="cosine", epochs=9),
        steps_per_epoch=2,
    )
    assert other is not None
    with pytest.raises(ConfigError, match="schedule is cosine over 6 epochs, this run's would be"):
        other.load_state_dict(schedules["cosine"][1].state_dict())


def test_batches_and_losses_are_what_the_loop_takes() -> None:
    X, y = torch.randn(10, 3), torch.randint(0, 2, (10,)).float()
    sources: list[BatchSource] = [
        Batches(X, y, 4),
        LoaderBatches(TensorDataset(X, y), 4),
        LoaderBatches(DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True)),
    ]
    for source in sources:
        assert len(source) == 3 and sum(len(yb) for _, yb in source.epoch()) == 10
        source.load_state_dict(source.state_dict(), mid_epoch=False)
    losses: list[LossFn] = [TaskLoss("binary"), nn.BCEWithLogitsLoss()]
    logits = torch.zeros(10)
    for loss_fn in losses:  # log 2 for logits of 0
        assert loss_fn(logits, y).item() == pytest.approx(0.6931472)
