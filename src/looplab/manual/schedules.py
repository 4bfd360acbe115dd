"""Learning-rate schedules from scratch: the learning rate as a function of the step count.

Each closed-form schedule is one method, ``lr_at(base, t)``: the learning rate after ``t``
calls to ``step()`` for a group whose learning rate was ``base`` when the schedule was built.
They work on any optimizer with ``param_groups`` (looplab's or ``torch.optim``'s) and give the
same sequence as ``torch.optim.lr_scheduler`` (``tests/manual/test_schedules.py``), which
computes most of them recursively, step from step, rather than in closed form.
Reduce-on-plateau is the odd one: it is driven by a measured loss, not by the clock.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from looplab.manual.optim import Group


class HasParamGroups(Protocol):
    """What a schedule needs of an optimizer: its groups, each with an ``lr`` to set."""

    @property
    def param_groups(self) -> list[Group]: ...


class Schedule:
    """Sets each group's ``lr`` to ``lr_at(base, t)``; ``t`` counts the calls to :meth:`step`."""

    def __init__(self, optimizer: HasParamGroups) -> None:
        self.optimizer = optimizer
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.t = 0
        self._apply()

    def lr_at(self, base: float, t: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one step (an epoch or an update, as the caller decides)."""
        self.t += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t, self.base_lrs = int(state["t"]), list(state["base_lrs"])
        self._apply()

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = self.lr_at(base, self.t)


class Constant(Schedule):
    """$\\eta_t = \\eta_0$."""

    def lr_at(self, base: float, t: int) -> float:
        return base


class StepDecay(Schedule):
    """Multiply by ``gamma`` every ``step_size`` steps:
    $\\eta_t = \\eta_0 \\gamma^{\\lfloor t/s \\rfloor}$."""

    def __init__(self, optimizer: HasParamGroups, step_size: int, gamma: float = 0.1) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, base: float, t: int) -> float:
        return base * self.gamma ** (t // self.step_size)


class Exponential(Schedule):
    """$\\eta_t = \\eta_0 \\gamma^t$."""

    def __init__(self, optimizer: HasParamGroups, gamma: float) -> None:
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, base: float, t: int) -> float:
        return base * self.gamma**t


def cosine(base: float, t: float, total: float, floor: float = 0.0) -> float:
    """Half a cosine from ``base`` at t = 0 to ``floor`` at t = ``total`` (``floor`` may be
    the larger one: then it rises)."""
    return floor + (base - floor) * (1 + math.cos(math.pi * t / total)) / 2


class Cosine(Schedule):
    """$\\eta_t = \\eta_{min} + (\\eta_0 - \\eta_{min}) (1 + \\cos(\\pi t / T)) / 2$."""

    def __init__(self, optimizer: HasParamGroups, total: int, floor: float = 0.0) -> None:
        self.total, self.floor = total, floor
        super().__init__(optimizer)

    def lr_at(self, base: float, t: int) -> float:
        return cosine(base, t, self.total, self.floor)


class WarmupCosine(Schedule):
    """A linear ramp over ``warmup`` steps, $\\eta_t = \\eta_0 (t+1)/(W+1)$, then a cosine
    from $\\eta_0$ to 0 over the remaining ``total - warmup`` steps."""

    def __init__(self, optimizer: HasParamGroups, warmup: int, total: int) -> None:
        self.warmup, self.total = warmup, total
        super().__init__(optimizer)

    def lr_at(self, base: float, t: int) -> float:
        if t < self.warmup:
            return base * (t + 1) / (self.warmup + 1)
        return cosine(base, t - self.warmup, self.total - self.warmup)


class OneCycle(Schedule):
    """Smith's one cycle: a cosine up from $\\eta_0$/``div`` to $\\eta_0$ over the first
    ``pct_start`` of ``total`` steps, then a cosine down to $\\eta_0$/(``div`` * ``final_div``).
    (``torch``'s OneCycleLR also cycles momentum; looplab's schedules touch only ``lr``.)"""

    def __init__(
        self,
        optimizer: HasParamGroups,
        total: int,
        pct_start: float = 0.3,
        div: float = 25.0,
        final_div: float = 1e4,
    ) -> None:
        self.total, self.pct_start, self.div, self.final_div = total, pct_start, div, final_div
        super().__init__(optimizer)

    def lr_at(self, base: float, t: int) -> float:
        start, low = base / self.div, base / self.div / self.final_div
        peak = self.pct_start * self.total - 1  # the step at which the lr is highest
        if t <= peak:
            return cosine(start, t, peak, base)  # rising from start to base
        return cosine(base, t - peak, self.total - 1 - peak, low)


class ReduceOnPlateau:
    """Multiply the lr by ``factor`` once the monitored loss has not improved (by a relative
    ``threshold``) for more than ``patience`` calls to ``step(loss)``; never below ``min_lr``."""

    def __init__(
        self,
        optimizer: HasParamGroups,
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        self.optimizer = optimizer
        self.factor, self.patience, self.threshold = factor, patience, threshold
        self.min_lr, self.eps = min_lr, eps
        self.best = math.inf
        self.bad_steps = 0

    def step(self, loss: float) -> None:
        """Record one measurement of the loss (lower is better)."""
        if loss < self.best * (1 - self.threshold):
            self.best, self.bad_steps = loss, 0
        else:
            self.bad_steps += 1
        if self.bad_steps > self.patience:
            for group in self.optimizer.param_groups:
                new = max(group["lr"] * self.factor, self.min_lr)
                if group["lr"] - new > self.eps:  # changes smaller than eps are not worth it
                    group["lr"] = new
            self.bad_steps = 0

    def get_last_lr(self) -> list[float]:
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_steps": self.bad_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_steps = float(state["best"]), int(state["bad_steps"])
