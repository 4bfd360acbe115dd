"""The from-scratch schedules against torch.optim.lr_scheduler: the same lr over 100 steps."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

from looplab.config import SCHEDULES, Config
from looplab.errors import ConfigError
from looplab.manual import schedules as scratch
from looplab.run.schedules import build_scheduler, lr_sequence

LR = 0.1
STEPS = 100
sched = torch.optim.lr_scheduler


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR)


def _sequence(
    make: Callable[[torch.optim.Optimizer], Any], losses: list[float] | None = None
) -> list[float]:
    optimizer = _optimizer()
    schedule = make(optimizer)
    lrs = []
    for t in range(STEPS):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if losses is not None:
            schedule.step(losses[t])
        else:
            schedule.step()
    return lrs


# (scratch, torch) pairs with the same settings
PAIRS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "constant": (scratch.Constant, lambda o: sched.LambdaLR(o, lambda t: 1.0)),
    "step": (lambda o: scratch.StepDecay(o, 30, 0.1), lambda o: sched.StepLR(o, 30, 0.1)),
    "exponential": (lambda o: scratch.Exponential(o, 0.95), lambda o: sched.ExponentialLR(o, 0.95)),
    "cosine": (lambda o: scratch.Cosine(o, STEPS), lambda o: sched.CosineAnnealingLR(o, STEPS)),
    "cosine_floor": (
        lambda o: scratch.Cosine(o, 40, floor=0.01),
        lambda o: sched.CosineAnnealingLR(o, 40, eta_min=0.01),
    ),
    "warmup_cosine": (
        lambda o: scratch.WarmupCosine(o, 10, STEPS),
        lambda o: sched.SequentialLR(
            o,
            [sched.LinearLR(o, 1 / 11, total_iters=10), sched.CosineAnnealingLR(o, STEPS - 10)],
            milestones=[10],
        ),
    ),
    "one_cycle": (
        lambda o: scratch.OneCycle(o, STEPS),
        lambda o: sched.OneCycleLR(o, max_lr=LR, total_steps=STEPS, cycle_momentum=False),
    ),
    "one_cycle_short_rise": (
        lambda o: scratch.OneCycle(o, STEPS, pct_start=0.1, div=10, final_div=100),
        lambda o: sched.OneCycleLR(
            o,
            max_lr=LR,
            total_steps=STEPS,
            pct_start=0.1,
            div_factor=10,
            final_div_factor=100,
            cycle_momentum=False,
        ),
    ),
}


@pytest.mark.parametrize("name", PAIRS)
def test_closed_form_schedules_equal_torch(name: str) -> None:
    mine, theirs = PAIRS[name]
    expected = _sequence(theirs)
    assert _sequence(mine) == pytest.approx(expected, rel=1e-12, abs=0)
    if name != "constant":
        assert len(set(expected)) > 3  # the learning rate really moves


def _plateau_losses() -> list[float]:
    """Improves for 20 steps, then flat with noise, then improves again: several drops."""
    g = torch.Generator().manual_seed(0)
    noise = (0.001 * torch.randn(STEPS, generator=g)).tolist()
    return [
        (1 / (1 + t) if t < 20 else 0.05 if t < 60 else 0.05 - 0.001 * (t - 60)) + noise[t]
        for t in range(STEPS)
    ]


def test_reduce_on_plateau_equals_torch() -> None:
    losses = _plateau_losses()
    expected = _sequence(lambda o: sched.ReduceLROnPlateau(o, factor=0.5, patience=4), losses)
    got = _sequence(lambda o: scratch.ReduceOnPlateau(o, factor=0.5, patience=4), losses)
    assert got == pytest.approx(expected, rel=1e-12, abs=0)
    assert len(set(expected)) >= 4  # it did reduce, several times


@pytest.mark.parametrize("name", SCHEDULES)
def test_config_schedules_same_for_both_impls(name: str) -> None:
    """What `fit` uses: 100 updates (20 epochs of 5 updates) for each --schedule, both impls."""
    config = Config(schedule=name, epochs=20, lr=LR, optimizer="momentum")
    losses = _plateau_losses()
    theirs = lr_sequence(config, steps_per_epoch=5, loss=lambda e: losses[e])
    mine = lr_sequence(config.replace(impl="scratch"), steps_per_epoch=5, loss=lambda e: losses[e])
    assert len(mine) == STEPS
    assert mine == pytest.approx(theirs, rel=1e-12, abs=0)


def test_warmup_rides_on_cosine_and_ramps_per_update() -> None:
    lrs = lr_sequence(Config(schedule="cosine", warmup=2, epochs=10, lr=1.0), steps_per_epoch=4)
    assert lrs[:8] == pytest.approx([(t + 1) / 9 for t in range(8)])  # 8 warm-up updates
    assert lrs[8] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx((1 + math.cos(math.pi * 31 / 32)) / 2)
    plain = lr_sequence(Config(schedule="cosine", epochs=10, lr=1.0), steps_per_epoch=4)
    assert plain[:4] == [1.0] * 4  # without warm-up, cosine moves once per epoch


def test_defaults_documented() -> None:
    step = lr_sequence(Config(schedule="step", epochs=9, lr=1.0, optimizer="sgd"))
    assert step == pytest.approx([1.0] * 3 + [0.1] * 3 + [0.01] * 3)
    exp = lr_sequence(Config(schedule="exponential", epochs=10, lr=1.0))
    assert exp[-1] == pytest.approx(0.01**0.9)
    cycle = lr_sequence(Config(schedule="one_cycle", epochs=10, lr=1.0), steps_per_epoch=10)
    assert cycle[0] == pytest.approx(1 / 25) and max(cycle) == pytest.approx(1.0, rel=1e-3)
    assert cycle.index(max(cycle)) == 29  # the top at 30% of 100 updates


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"schedule": "step", "warmup": 3}, "schedule 'step' has no warm-up"),
        ({"schedule": "cosine", "warmup": 10}, "must be shorter than the run"),
    ],
)
def test_bad_warmup_is_a_config_error(changes: dict[str, Any], message: str) -> None:
    config = Config(epochs=10, **changes)
    with pytest.raises(ConfigError, match=message):
        build_scheduler(_optimizer(), config, steps_per_epoch=3)


def test_scheduler_state_round_trip() -> None:
    """A scheduler restored from its state_dict continues the same sequence."""
    for impl in ("torch", "scratch"):
        config = Config(schedule="warmup_cosine", epochs=10, warmup=2, impl=impl, lr=LR)
        first_opt = _optimizer()
        first = build_scheduler(first_opt, config, steps_per_epoch=3)
        assert first is not None
        for _ in range(7):
            first_opt.step()
            first.after_update()
        second_opt = _optimizer()
        second = build_scheduler(second_opt, config, steps_per_epoch=3)
        assert second is not None
        second_opt.load_state_dict(first_opt.state_dict())
        second.load_state_dict(first.state_dict())
        for _ in range(5):
            for opt, s in ((first_opt, first), (second_opt, second)):
                opt.step()
                s.after_update()
            assert second_opt.param_groups[0]["lr"] == first_opt.param_groups[0]["lr"]
