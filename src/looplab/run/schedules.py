"""The learning-rate schedule a config asks for, from ``torch.optim.lr_scheduler`` or from
:mod:`looplab.manual.schedules` (``config.impl``; the manual engine's fused optimizers, which
torch's schedulers do not take, always get looplab's), and when the loop must step it.

Settings (the config names only the schedule, ``lr``, ``epochs`` and ``warmup``):

- ``constant``: no scheduler.
- ``step``: x0.1 every ``ceil(epochs / 3)`` epochs (two drops in a run, at 1/3 and 2/3).
- ``exponential``: x``gamma`` every epoch, ``gamma = 0.01 ** (1 / epochs)``: lr/100 at the end.
- ``cosine``: from ``lr`` to 0 over the run (``T_max = epochs``), per epoch. With
  ``--warmup W`` it is ``warmup_cosine``.
- ``warmup_cosine``: linear ramp ``lr (t+1)/(W+1)`` over ``W = warmup`` epochs
  (``max(1, epochs // 10)`` when warmup is 0), then a cosine to 0; stepped per update.
- ``one_cycle``: up from lr/25 to ``lr`` over the first 30% of the run (or ``warmup`` epochs),
  down to lr/25e4 at the end; stepped per update; the momentum is not cycled.
- ``plateau``: x0.1 after 5 epochs without a 0.01% better validation loss (training loss when
  there is no validation split); per epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from looplab.config import Config
from looplab.errors import ConfigError
from looplab.loop.protocols import Optimizer, StateDict

PLATEAU_FACTOR, PLATEAU_PATIENCE = 0.1, 5
STEP_GAMMA = 0.1


class SchedulerState(Protocol):
    """What a checkpoint needs of a scheduler, torch's or looplab's."""

    def state_dict(self) -> StateDict: ...

    def load_state_dict(self, state: StateDict, /) -> None: ...


class SteppedScheduler(SchedulerState, Protocol):
    """torch's ``LRScheduler``s and :class:`looplab.manual.schedules.Schedule`: ``step()``."""

    def step(self) -> None: ...


class PlateauScheduler(SchedulerState, Protocol):
    """torch's ``ReduceLROnPlateau`` and looplab's ``ReduceOnPlateau``: ``step(loss)``."""

    def step(self, loss: float, /) -> None: ...


@dataclass
class LoopSchedule:
    """A scheduler (torch's or looplab's) and when the loop steps it: after every update
    (``per_step``: warm-up, one-cycle) or after every epoch."""

    scheduler: SteppedScheduler
    per_step: bool = False
    plan: str = ""  # e.g. "cosine over 20 epochs": a resumed run must keep it

    def after_update(self) -> None:
        if self.per_step:
            self.scheduler.step()

    def after_epoch(self, loss: float) -> None:
        if not self.per_step:
            self.scheduler.step()

    def state_dict(self) -> StateDict:
        return planned_state(self.scheduler, self.plan)

    def load_state_dict(self, state: StateDict) -> None:
        load_planned_state(self.scheduler, self.plan, state)


@dataclass
class PlateauSchedule:
    """``plateau``: a scheduler stepped after every epoch with the loss it watches."""

    scheduler: PlateauScheduler
    plan: str = "plateau"

    def after_update(self) -> None:
        """Nothing: the learning rate moves only on an epoch's loss."""

    def after_epoch(self, loss: float) -> None:
        self.scheduler.step(loss)

    def state_dict(self) -> StateDict:
        return planned_state(self.scheduler, self.plan)

    def load_state_dict(self, state: StateDict) -> None:
        load_planned_state(self.scheduler, self.plan, state)


def planned_state(scheduler: SchedulerState, plan: str) -> StateDict:
    """The scheduler's state with the plan it follows and whose scheduler it is."""
    return {**scheduler.state_dict(), "looplab_plan": plan, "looplab_impl": impl_of(scheduler)}


def load_planned_state(scheduler: SchedulerState, plan: str, state: StateDict) -> None:
    """Load a saved state into ``scheduler``, refusing one saved under another plan or by the
    other family of schedulers (their states differ)."""
    state = dict(state)
    saved = state.pop("looplab_plan", plan)
    if saved != plan:
        raise ConfigError(
            f"the checkpoint's learning-rate schedule is {saved}, this run's would be "
            f"{plan}; resume with the run's --epochs (or --schedule constant)"
        )
    # older checkpoints do not say; torch's schedulers all count a last_epoch
    impl = state.pop("looplab_impl", "torch" if "last_epoch" in state else "looplab")
    if impl != impl_of(scheduler):
        raise ConfigError(
            f"the checkpoint's schedule state was written by {impl}'s schedulers and this run "
            f"steps {impl_of(scheduler)}'s (the manual engine's fused optimizers use looplab's "
            "since this version); start a new run"
        )
    scheduler.load_state_dict(state)


def impl_of(scheduler: SchedulerState) -> str:
    """Whose scheduler this is: ``torch`` or ``looplab`` (:mod:`looplab.manual.schedules`)."""
    return "torch" if isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler) else "looplab"


def step_every(epochs: int) -> int:
    """The step schedule's period: two drops in a run of ``epochs`` (fewer if epochs < 3)."""
    return max(1, math.ceil(epochs / 3))


def warmup_epochs(config: Config) -> int:
    """The warm-up the schedule uses, in epochs; a ConfigError if it cannot use one."""
    name, warmup, epochs = config.schedule, config.warmup, config.epochs
    if warmup and name not in ("cosine", "warmup_cosine", "one_cycle"):
        raise ConfigError(
            f"schedule {name!r} has no warm-up; drop --warmup or use --schedule warmup_cosine"
        )
    if name == "warmup_cosine" and warmup == 0:
        warmup = max(1, epochs // 10)
    if warmup >= epochs:
        raise ConfigError(
            f"warmup ({warmup} epochs) must be shorter than the run ({epochs} epochs); "
            f"lower --warmup or raise --epochs"
        )
    return warmup


def schedule_plan(config: Config) -> str:
    """What a checkpoint records of the schedule, e.g. ``"cosine over 20 epochs"`` (``""`` for
    constant): a resumed run must keep it, so a resume compares it before writing anything."""
    warmup = warmup_epochs(config)
    name = "warmup_cosine" if config.schedule == "cosine" and warmup else config.schedule
    if name == "constant":
        return ""
    return name if name == "plateau" else f"{name} over {config.epochs} epochs"


def build_scheduler(
    optimizer: Optimizer, config: Config, steps_per_epoch: int
) -> LoopSchedule | PlateauSchedule | None:
    """The schedule of ``config`` over ``config.epochs`` epochs of ``steps_per_epoch`` updates."""
    warmup = warmup_epochs(config)
    name = "warmup_cosine" if config.schedule == "cosine" and warmup else config.schedule
    epochs, total = config.epochs, config.epochs * steps_per_epoch
    if name == "constant":
        return None
    if name == "one_cycle" and warmup * steps_per_epoch == 1:
        raise ConfigError("one_cycle needs a warm-up of 2 updates or more; raise --warmup")
    pct_start = warmup / epochs if warmup else 0.3
    per_step = name in ("warmup_cosine", "one_cycle")
    plan = schedule_plan(config)
    if config.impl == "scratch" or not isinstance(optimizer, torch.optim.Optimizer):
        # the from-scratch schedules, equal to torch's (tests/manual/test_schedules.py), drive
        # any optimizer with param_groups; torch's only drive torch.optim's
        from looplab.manual import schedules as s

        if name == "plateau":
            return PlateauSchedule(s.ReduceOnPlateau(optimizer, PLATEAU_FACTOR, PLATEAU_PATIENCE))
        scratch: dict[str, Callable[[], SteppedScheduler]] = {
            "step": lambda: s.StepDecay(optimizer, step_every(epochs), STEP_GAMMA),
            "exponential": lambda: s.Exponential(optimizer, 0.01 ** (1 / epochs)),
            "cosine": lambda: s.Cosine(optimizer, epochs),
            "warmup_cosine": lambda: s.WarmupCosine(optimizer, warmup * steps_per_epoch, total),
            "one_cycle": lambda: s.OneCycle(optimizer, total, pct_start),
        }
        return LoopSchedule(scratch[name](), per_step, plan)
    assert isinstance(optimizer, torch.optim.Optimizer)  # the others took looplab's above
    if name == "plateau":
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE
        )
        return PlateauSchedule(plateau)
    return LoopSchedule(
        _torch_scheduler(optimizer, name, epochs, warmup * steps_per_epoch, total, pct_start),
        per_step,
        plan,
    )


def _torch_scheduler(
    optimizer: torch.optim.Optimizer, name: str, epochs: int, warmup: int, total: int, pct: float
) -> torch.optim.lr_scheduler.LRScheduler:
    """torch's twin of each schedule but plateau (``warmup`` and ``total`` in updates)."""
    sched = torch.optim.lr_scheduler
    match name:
        case "step":
            return sched.StepLR(optimizer, step_size=step_every(epochs), gamma=STEP_GAMMA)
        case "exponential":
            return sched.ExponentialLR(optimizer, gamma=0.01 ** (1 / epochs))
        case "cosine":
            return sched.CosineAnnealingLR(optimizer, T_max=epochs)
        case "warmup_cosine":
            ramp = sched.LinearLR(optimizer, 1 / (warmup + 1), 1.0, total_iters=warmup)
            decay = sched.CosineAnnealingLR(optimizer, T_max=total - warmup)
            return sched.SequentialLR(optimizer, [ramp, decay], milestones=[warmup])
        case "one_cycle":
            lr = optimizer.param_groups[0]["lr"]
            return sched.OneCycleLR(
                optimizer, max_lr=lr, total_steps=total, pct_start=pct, cycle_momentum=False
            )
    raise AssertionError(f"config.validate() lets no schedule {name!r} through")


def lr_sequence(
    config: Config,
    steps_per_epoch: int = 1,
    loss: Callable[[int], float] = lambda epoch: 1.0,
) -> list[float]:
    """The learning rate of every update of a run, without training anything: a dummy
    parameter, the config's optimizer and schedule, and ``loss(epoch)`` fed to ``plateau``."""
    from looplab.run.optimizers import build_optimizer

    optimizer = build_optimizer([torch.zeros(1, requires_grad=True)], config)
    schedule = build_scheduler(optimizer, config, steps_per_epoch)
    lrs = []
    for epoch in range(1, config.epochs + 1):
        for _ in range(steps_per_epoch):
            lrs.append(float(optimizer.param_groups[0]["lr"]))
            optimizer.step()  # no gradient, no change; torch wants a step before the schedule's
            if schedule is not None:
                schedule.after_update()
        if schedule is not None:
            schedule.after_epoch(loss(epoch))
    return lrs
