"""The divergence guard: stop at the first non-finite loss or gradient, or roll back and retry.

:class:`DivergenceGuard` checks each step and raises :class:`Diverged` naming the step and the
first layer (in forward order) whose gradient or weights are not finite. With
``on_nan = "rollback"``, :func:`fit_with_rollback` catches it outside ``fit``, reloads the last
good checkpoint with half the learning rate and resumes, at most :data:`MAX_ROLLBACKS` times:
``fit`` itself stays a plain loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from looplab.config import Config
from looplab.data.prepared import PreparedData
from looplab.errors import LooplabError
from looplab.train.callbacks import Callback
from looplab.train.checkpoint import Payload, latest_good
from looplab.train.history import History
from looplab.train.loop import fit
from looplab.train.resume import scale_lr
from looplab.train.state import LoopState

MAX_ROLLBACKS = 3


class Diverged(LooplabError):
    """The loss or a gradient became NaN or infinite at ``step``; ``layer`` is the first layer
    affected (None when every parameter is still finite)."""

    def __init__(self, message: str, step: int, layer: str | None) -> None:
        super().__init__(message)
        self.step = step
        self.layer = layer


def first_nonfinite_layer(model: Any) -> str | None:
    """Name of the first module (in registration = forward order) with a non-finite gradient
    or weight, with which of the two, e.g. ``"fc2 (gradient)"``; None when all are finite."""
    if not isinstance(model, nn.Module):
        model = getattr(model, "model", None) or getattr(model, "module", None)
        if not isinstance(model, nn.Module):
            return None
    for name, module in model.named_modules():
        for p in module.parameters(recurse=False):
            if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                return f"{name or 'model'} (gradient)"
            if not bool(torch.isfinite(p).all()):
                return f"{name or 'model'} (weights)"
    return None


def _grads_finite(optimizer: Any) -> bool:
    grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
    if not grads:
        return True
    return bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())  # one sync


class DivergenceGuard(Callback):
    """After every step: a NaN/inf loss or gradient raises :class:`Diverged`."""

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if bool(torch.isfinite(loss)) and _grads_finite(state.optimizer):
            return
        finite_loss = bool(torch.isfinite(loss))
        what = "a gradient is not finite" if finite_loss else f"the loss is {float(loss)}"
        layer = first_nonfinite_layer(state.model)
        where = f"; first layer affected: {layer}" if layer else ""
        hint = "" if state.config.on_nan == "rollback" else ", or use --on-nan rollback"
        raise Diverged(
            f"training diverged at step {state.step} (epoch {epoch}, batch {batch + 1}): "
            f"{what}{where}; "
            f"lower --lr{hint}",
            state.step,
            layer,
        )


def fit_with_rollback(
    model: nn.Module,
    data: PreparedData,
    config: Config,
    callbacks: Sequence[Callback],
    checkpoints: Path,
    resume: Path | Payload | None = None,
    on_note: Callable[[str], None] = lambda message: None,
) -> History:
    """``fit``; on :class:`Diverged` with ``config.on_nan == "rollback"``, resume from the newest
    good checkpoint in ``checkpoints`` with half the learning rate, at most 3 times."""
    rollbacks = 0
    while True:
        try:
            return fit(model, data, config, callbacks, resume=resume)
        except Diverged as exc:
            if config.on_nan != "rollback":
                raise
            if rollbacks == MAX_ROLLBACKS:
                raise Diverged(
                    f"{exc} (gave up after {MAX_ROLLBACKS} rollbacks)", exc.step, exc.layer
                ) from None
            found = latest_good(checkpoints)
            rollbacks += 1
            resume = scale_lr(found.payload, 0.5)
            lr = resume["optimizer"]["param_groups"][0]["lr"]
            note = (
                f"rollback {rollbacks}/{MAX_ROLLBACKS}: diverged at step {exc.step}; restored "
                f"{found.path.name} (step {found.payload['step']}) and halved the learning rate "
                f"to {lr:.4g}"
            )
            resume["history"] = {
                "rows": resume["history"]["rows"],
                "messages": [*resume["history"]["messages"], note],
            }
            on_note(note)
