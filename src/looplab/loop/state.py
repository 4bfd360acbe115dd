"""Everything the loop works with, in one visible object that callbacks may read and
checkpoints may save."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from looplab.loop.early_stopping import EarlyStopping
from looplab.loop.history import History
from looplab.loop.metrics import Reduce, RunningMetrics
from looplab.loop.protocols import BatchSource, LossFn, Optimizer, Scheduler
from looplab.task import Task


@dataclass
class LoopState:
    """The loop's working set. ``epoch`` counts finished epochs, ``batch`` finished batches of
    the current one, ``step`` optimizer steps over the whole run; ``epochs`` is the run's
    planned length."""

    model: nn.Module
    optimizer: Optimizer
    loss_fn: LossFn
    train_batches: BatchSource
    val_batches: BatchSource | None
    device: torch.device
    task: Task
    epochs: int
    scheduler: Scheduler | None = None  # None keeps the lr constant
    history: History = field(default_factory=History)
    stopper: EarlyStopping = field(default_factory=lambda: EarlyStopping(0))
    running: RunningMetrics | None = None  # the current epoch's training metrics so far
    target_scale: float = 1.0  # the MAE's unit: sigma of a standardized regression target
    reduce_metrics: Reduce | None = None  # sums over every process (data-parallel runs)
    clip_norm: float | None = None  # the gradient's largest total L2 norm (None: not clipped)
    grad_norm: torch.Tensor | None = None  # the last step's total norm before clipping
    epoch: int = 0
    batch: int = 0
    step: int = 0

    @property
    def lr(self) -> float:
        """The learning rate the next step will use (of the first parameter group)."""
        return float(self.optimizer.param_groups[0]["lr"])

    def new_metrics(self) -> RunningMetrics:
        """Empty running metrics for an epoch of this run."""
        return RunningMetrics(self.task, self.target_scale, self.reduce_metrics)


def model_device(model: nn.Module) -> torch.device:
    """Where ``model``'s parameters live (the CPU for a model without parameters)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")
