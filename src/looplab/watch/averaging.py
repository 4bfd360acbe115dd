r"""Averaged weights, kept beside the model and swapped in at the end of training.

- EMA, the exponential moving average of the weights after every step,
  $\bar\theta \leftarrow d\,\bar\theta + (1 - d)\,\theta$: ``AveragedModel`` with
  ``get_ema_multi_avg_fn(decay)``.
- SWA (Izmailov et al., 2018), the plain average of the weights at the end of each epoch from
  ``start`` on, $\bar\theta = \frac{1}{k}\sum_{i} \theta_i$, with ``SWALR`` holding the learning
  rate at ``swa_lr`` from then on; batch norm statistics are recomputed for the averaged
  weights with ``update_bn``.

Both average points along the path that the noise of SGD spreads around a minimum; their mean
sits nearer its centre, where the loss is flatter and validation accuracy often higher. The
history's validation columns are those of the raw weights during training; the final model
(``model.pt``, the report's metrics) is the average, and a note says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_multi_avg_fn, update_bn

from looplab.loop.events import Callback
from looplab.loop.history import History, Note
from looplab.loop.state import LoopState


class WeightAverage(Callback):
    """``kind`` "ema" (after every step, ``decay``) or "swa" (at the end of each epoch from
    epoch ``start``, the learning rate annealed to ``swa_lr`` by SWALR when given). Its
    :meth:`state_dict` is part of a checkpoint (a Checkpointer ``part``); give it back with
    :meth:`load_state_dict` (or ``resume``) before a resumed fit."""

    def __init__(
        self,
        kind: str,
        *,
        decay: float = 0.999,
        start: int = 1,
        swa_lr: float | None = None,
        resume: dict[str, Any] | None = None,
        swap_at_end: bool = True,
    ) -> None:
        if kind not in ("ema", "swa"):
            raise ValueError(f"kind must be 'ema' or 'swa', got {kind!r}")
        self.kind, self.decay, self.start, self.swa_lr = kind, decay, start, swa_lr
        self.averaged: AveragedModel | None = None
        self.swalr: SWALR | None = None
        self.resume = resume
        self.swap_at_end = swap_at_end

    def on_fit_start(self, state: LoopState) -> None:
        if self.kind == "ema":
            fn = get_ema_multi_avg_fn(self.decay)  # type: ignore[no-untyped-call]
            self.averaged = AveragedModel(state.model, multi_avg_fn=fn, use_buffers=True)
        else:
            self.averaged = AveragedModel(state.model)
            if self.swa_lr is not None and isinstance(state.optimizer, torch.optim.Optimizer):
                self.swalr = SWALR(state.optimizer, swa_lr=self.swa_lr, anneal_epochs=1)
        if self.resume:
            self.averaged.load_state_dict(self.resume["average"])
            if self.swalr is not None and self.resume.get("swalr") is not None:
                self.swalr.load_state_dict(self.resume["swalr"])

    def state_dict(self) -> dict[str, Any]:
        """The average (and SWALR's step) now, for a checkpoint: {} before training starts."""
        if self.averaged is None:
            return {}
        average = {k: v.detach().clone() for k, v in self.averaged.state_dict().items()}
        swalr = self.swalr.state_dict() if self.swalr is not None else None
        return {"average": average, "swalr": swalr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Start the next fit from a checkpoint's average ({}: a fresh one)."""
        self.resume = state or None

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if self.kind == "ema" and self.averaged is not None:
            self.averaged.update_parameters(state.model)

    def on_epoch_end(self, state: LoopState, epoch: int, row: dict[str, float]) -> None:
        if self.kind == "swa" and self.averaged is not None and epoch >= self.start:
            self.averaged.update_parameters(state.model)
            if self.swalr is not None:
                self.swalr.step()

    @property
    def count(self) -> int:
        """How many weight vectors are in the average."""
        return int(self.averaged.n_averaged) if self.averaged is not None else 0

    def on_fit_end(self, state: LoopState, history: History) -> None:
        """Swap the average into the model, unless ``swap_at_end`` is off (a run that writes a
        final checkpoint keeps the raw weights there and calls :meth:`swap` itself)."""
        if self.swap_at_end:
            self.swap(state.model, history, (xb for xb, _ in state.train_batches.epoch()))

    def swap(self, model: nn.Module, history: History, inputs: Iterable[Tensor]) -> None:
        """Load the average into ``model`` (from the live average, or the one given to resume
        from), recompute batch-norm statistics for SWA on ``inputs``, and say so in a note."""
        if self.averaged is None and self.resume:  # a finished run, restored from its checkpoint
            self.averaged = AveragedModel(model)
            self.averaged.load_state_dict(self.resume["average"])
        if self.averaged is None or self.count == 0:
            return
        model.load_state_dict(self.averaged.module.state_dict())
        has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
        if self.kind == "swa" and has_bn:
            update_bn(inputs, model, next(model.parameters()).device)
        what = (
            f"an exponential moving average of the weights (decay {self.decay:g}) over "
            f"{self.count} steps"
            if self.kind == "ema"
            else f"the average of the weights at the end of {self.count} epoch(s) (SWA from "
            f"epoch {self.start})"
        )
        history.note(Note("weight average", f"the final model is {what}; the validation "
                          "columns of the history are those of the raw weights"))  # fmt: skip
