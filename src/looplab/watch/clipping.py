r"""How often gradient clipping acted: the ``clip_frac`` column of each epoch's history row.

With ``clip_norm`` set, the loop rescales a step's gradient $g$ to $g \cdot c / \|g\|$ when its
total L2 norm $\|g\|$ is above $c$, and keeps $\|g\|$ (before clipping) in ``state.grad_norm``.
:class:`ClipCounter` reads it after every step: ``clip_frac`` is the fraction of the epoch's
steps that were clipped, and ``grad_norm`` their median norm, so a run shows whether the clip
is a rare safety net (a few percent) or rewrites every step (near 1: the lr is too high, or
the clip too low).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from looplab.loop.events import Callback
from looplab.loop.history import Row
from looplab.loop.state import LoopState


class ClipCounter(Callback):
    """Adds ``clip_frac`` and ``grad_norm`` (median, before clipping) to every epoch's row of
    a run with ``clip_norm``. Norms stay on their device until the epoch ends (no sync per
    step)."""

    def __init__(self) -> None:
        self.norms: list[Tensor] = []

    def on_epoch_start(self, state: LoopState, epoch: int) -> None:
        if state.batch == 0:  # a run resumed mid-epoch keeps the norms of its first part
            self.norms = []

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if state.grad_norm is not None:
            self.norms.append(state.grad_norm.detach())

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        if state.clip_norm is None or not self.norms:  # a resumed epoch may have no steps left
            return
        norms = torch.stack(self.norms).double().cpu()  # (steps,)
        row["clip_frac"] = float((norms > state.clip_norm).double().mean())
        row["grad_norm"] = float(norms.median())

    def state_dict(self) -> dict[str, Any]:
        """The norms of the epoch so far: a run resumed mid-epoch reports the whole epoch (give
        the counter to the Checkpointer's ``parts``, and its entry back on resume)."""
        norms = torch.stack(self.norms).cpu() if self.norms else torch.empty(0)  # (steps,)
        return {"norms": norms}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.norms = list(state["norms"].unbind())
