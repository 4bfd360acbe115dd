"""The divergence guard: stop at the first non-finite loss or gradient, or roll back and retry.

:class:`DivergenceGuard` checks each step and raises :class:`Diverged` naming the step and the
first layer (in forward order) whose gradient is not finite (the monitors' check). With
``on_nan = "rollback"``, :func:`fit_with_rollback` catches it outside ``fit``, reloads the last
good checkpoint with half the learning rate and resumes, at most :data:`MAX_ROLLBACKS` times:
``fit`` itself stays a plain loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from looplab.config import Config
from looplab.data.prepared import PreparedData
from looplab.errors import LooplabError
from looplab.inspect.diagnoses import first_nonfinite_layer, nonfinite_explanation
from looplab.inspect.monitors import network
from looplab.train.callbacks import Callback
from looplab.train.checkpoint import Payload, latest_good
from looplab.train.history import History
from looplab.train.loop import fit
from looplab.train.resume import base_lr, scale_lr
from looplab.train.state import LoopState

MAX_ROLLBACKS = 3


class Diverged(LooplabError):
    """The loss or a gradient became NaN or infinite at ``step``; ``layer`` is the first layer
    with a non-finite gradient (None if all are finite); ``lr`` the base learning rate then."""

    def __init__(self, message: str, step: int, layer: str | None, lr: float) -> None:
        super().__init__(message)
        self.step = step
        self.layer = layer
        self.lr = lr


def _all_finite(loss: Tensor, optimizer: Any) -> bool:
    """Loss and every gradient finite? One fused check and one sync: ~5x cheaper than a check
    per tensor (benchmarks/checkpoint_overhead.py)."""
    flat = [p.grad.reshape(-1) for g in optimizer.param_groups for p in g["params"]
            if p.grad is not None]  # fmt: skip
    return bool(torch.isfinite(torch.cat([loss.detach().reshape(1), *flat])).all())


class DivergenceGuard(Callback):
    """After every step: a NaN/inf loss or gradient raises :class:`Diverged`."""

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if _all_finite(loss, state.optimizer):
            return
        value = float(loss.detach())
        what = f"the loss is {value}" if not math.isfinite(value) else "a gradient is not finite"
        layer = first_nonfinite_layer(network(state.model))  # first in forward order
        schedule = state.scheduler.state_dict() if state.scheduler is not None else None
        where = f"; first layer with a non-finite gradient: {layer}" if layer else ""
        rollback = state.config.on_nan != "rollback"
        # the diagnoses (which run before the guard) may already know why: say it here too
        why = nonfinite_explanation(state.history.messages)
        if why is None:
            why = "lower --lr, or use --on-nan rollback" if rollback else "lower --lr"
        elif rollback:
            why += "; or use --on-nan rollback"
        raise Diverged(
            f"training diverged at step {state.step} (epoch {epoch}, batch {batch + 1}): "
            f"{what}{where}; {why}",
            state.step,
            layer,
            base_lr(schedule, state.optimizer.param_groups),
        )


def fit_with_rollback(
    model: nn.Module,
    data: PreparedData,
    config: Config,
    callbacks: Sequence[Callback],
    checkpoints: Path,
    resume: Path | Payload | None = None,
) -> History:
    """``fit``; on :class:`Diverged` with ``config.on_nan == "rollback"``, resume from the newest
    good checkpoint in ``checkpoints`` with half the learning rate, at most 3 times. Each
    rollback is reported in ``history.messages`` (the progress bar prints them)."""
    rollbacks = 0
    lrs: list[float] = []
    while True:
        try:
            return fit(model, data, config, callbacks, resume=resume)
        except Diverged as exc:
            if config.on_nan != "rollback":
                raise
            if rollbacks == MAX_ROLLBACKS:
                tried = ", ".join(f"{lr:.4g}" for lr in lrs)
                raise Diverged(
                    f"{exc} (gave up after {MAX_ROLLBACKS} rollbacks, at lr {tried})",
                    exc.step,
                    exc.layer,
                    exc.lr,
                ) from None
            found = latest_good(checkpoints)
            rollbacks += 1
            saved = base_lr(found.payload["scheduler"], found.payload["optimizer"]["param_groups"])
            lr = exc.lr / 2  # half the rate that diverged, whatever the checkpoint had
            lrs.append(lr)
            resume = scale_lr(found.payload, lr / saved)
            note = (
                f"rollback {rollbacks}/{MAX_ROLLBACKS}: diverged at step {exc.step}; restored "
                f"{found.path.name} (step {found.payload['step']}) and halved the learning rate "
                f"to {lr:.4g}"
            )
            resume["history"] = {
                "rows": resume["history"]["rows"],
                "messages": [*resume["history"]["messages"], note],
            }
