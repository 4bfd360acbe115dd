r"""Gradient accumulation and clipping as a wrapper around the optimizer (used by ``looplab gpt``).

INTERIM, kept small on purpose: issue 12 adds ``--accumulate`` and ``--clip-norm`` to the loop
itself. The loop calls ``zero_grad(); backward(); step()`` once per batch, and no event sits
between ``backward`` and ``step``, so here the optimizer does both:

- accumulation over $k$ batches: ``zero_grad`` clears only at the start of a group of $k$, the
  gradients of the $k$ batches add up in ``.grad``, and the $k$-th ``step`` divides them by $k$
  (the gradient of the mean loss over $k$ batches) before it updates;
- clipping: just before the update, the gradient's global norm
  $\lVert g \rVert = \sqrt{\sum_p \lVert g_p \rVert^2}$ is scaled down to ``clip_norm`` when it
  is larger (``torch.nn.utils.clip_grad_norm_``).

A checkpoint taken inside a group keeps the gradients added so far, so resume is exact. The
scheduler is wrapped too (:class:`PerUpdate`): it moves once per update, not once per batch.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from looplab.loop.protocols import Scheduler, StateDict


class AccumulateClip:
    """A ``torch.optim`` optimizer that updates every ``every`` batches (their mean gradient),
    clipped to a global norm of ``clip_norm`` (0: no clipping). ``last_norm`` is the norm of the
    last update's gradient before clipping."""

    def __init__(self, optimizer: torch.optim.Optimizer, every: int = 1, clip_norm: float = 0.0):
        self.inner = optimizer
        self.every = every
        self.clip_norm = clip_norm
        self.pending = 0  # batches whose gradients are in .grad, waiting for the update
        self.last_norm = math.nan

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The wrapped optimizer's groups (torch replaces the list on load_state_dict)."""
        return self.inner.param_groups

    @param_groups.setter
    def param_groups(self, groups: list[dict[str, Any]]) -> None:
        self.inner.param_groups = groups

    @property
    def updated(self) -> bool:
        """Whether the last ``step`` updated the weights (it ended a group of batches)."""
        return self.pending == 0

    def params(self) -> list[Tensor]:
        return [p for g in self.inner.param_groups for p in g["params"] if p.grad is not None]

    def zero_grad(self, set_to_none: bool = True) -> None:
        if self.pending == 0:  # inside a group the gradients keep adding up
            self.inner.zero_grad(set_to_none)

    def step(self) -> None:
        self.pending += 1
        if self.pending < self.every:
            return
        params = self.params()
        if self.every > 1:
            for p in params:  # the sum of k batches' mean gradients / k
                p.grad.div_(self.every)  # type: ignore[union-attr]
        if self.clip_norm > 0:
            self.last_norm = float(torch.nn.utils.clip_grad_norm_(params, self.clip_norm))
        self.inner.step()
        self.pending = 0

    def state_dict(self) -> StateDict:
        """The optimizer's own state, plus the group in progress and its gradients so far."""
        grads = [p.grad.detach().clone() if p.grad is not None else None
                 for g in self.inner.param_groups for p in g["params"]]  # fmt: skip
        pending = {"pending": self.pending, "grads": grads if self.pending else []}
        return {**self.inner.state_dict(), "accumulation": pending}

    def load_state_dict(self, state: StateDict) -> None:
        state = dict(state)
        pending = state.pop("accumulation", {"pending": 0, "grads": []})
        self.inner.load_state_dict(state)
        self.pending = int(pending["pending"])
        params = [p for g in self.inner.param_groups for p in g["params"]]
        for p, grad in zip(params, pending["grads"], strict=False):
            p.grad = None if grad is None else grad.clone()


class PerUpdate:
    """A schedule that moves once per update of an :class:`AccumulateClip` optimizer, not once
    per batch: the learning-rate plan counts updates."""

    def __init__(self, schedule: Scheduler, optimizer: AccumulateClip) -> None:
        self.schedule = schedule
        self.optimizer = optimizer

    def after_update(self) -> None:
        if self.optimizer.updated:
            self.schedule.after_update()

    def after_epoch(self, loss: float) -> None:
        self.schedule.after_epoch(loss)

    def state_dict(self) -> StateDict:
        return self.schedule.state_dict()

    def load_state_dict(self, state: StateDict) -> None:
        self.schedule.load_state_dict(state)
