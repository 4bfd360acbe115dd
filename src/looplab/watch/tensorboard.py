"""TensorBoard logging: every history column as a scalar, weights and gradients as histograms.

``looplab train --tensorboard`` writes an event file into the run directory, so
``tensorboard --logdir runs/`` shows every run side by side. Uses ``torch.utils.tensorboard``
(needs the ``tensorboard`` package), imported only when a run asks for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from looplab.loop.events import Callback
from looplab.loop.history import History, Row
from looplab.loop.state import LoopState

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter


def scalar_tag(column: str) -> str | None:
    """TensorBoard tag of a history column: ``train_loss`` -> ``loss/train``,
    ``val_accuracy`` -> ``accuracy/val``; ``grad_norm/fc1`` stays; ``epoch`` has none."""
    if column == "epoch":
        return None
    for split in ("train", "val"):
        if column.startswith(f"{split}_"):
            return f"{column.removeprefix(split + '_')}/{split}"
    if column in ("time_s", "samples_per_s"):
        return f"time/{column}"
    return column


class TensorBoardLogger(Callback):
    """After every epoch: each row column as a scalar at step = epoch; every
    ``histograms_every`` epochs the weights (``weights/fc1.weight``) and the last step's
    gradients (``gradients/fc1.weight``) as histograms."""

    def __init__(self, log_dir: Path, histograms_every: int = 1) -> None:
        self.log_dir = log_dir
        self.histograms_every = histograms_every
        self.writer: SummaryWriter | None = None

    def on_fit_start(self, state: LoopState) -> None:
        from torch.utils.tensorboard import SummaryWriter

        if self.writer is not None:  # a rollback restarts fit without ending it
            self.writer.close()
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        writer = self.writer
        assert writer is not None, "on_fit_start opens the writer"
        for column, value in row.items():
            tag = scalar_tag(column)
            if tag is not None:
                writer.add_scalar(tag, value, epoch)
        if self.histograms_every > 0 and epoch % self.histograms_every == 0:
            for name, p in state.model.named_parameters():
                writer.add_histogram(f"weights/{name}", p.detach().cpu(), epoch)
                if p.grad is not None:
                    writer.add_histogram(f"gradients/{name}", p.grad.detach().cpu(), epoch)
        writer.flush()

    def on_fit_end(self, state: LoopState, history: History) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
