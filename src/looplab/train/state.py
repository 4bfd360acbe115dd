"""Everything the loop works with, in one visible object that callbacks may read and
checkpoints may save."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from looplab.config import Config
from looplab.data.batches import BatchSource
from looplab.train.early_stopping import EarlyStopping
from looplab.train.history import History
from looplab.train.metrics import RunningMetrics


@dataclass
class LoopState:
    """The loop's working set. ``epoch`` counts finished epochs, ``batch`` finished batches of
    the current one and ``step`` optimizer steps over the whole run."""

    model: nn.Module
    optimizer: Any  # a torch.optim.Optimizer, or looplab's from-scratch optimizer
    loss_fn: nn.Module
    train_batches: BatchSource
    val_batches: BatchSource | None
    config: Config
    device: torch.device
    task: str
    scheduler: Any = None  # a train.schedules.LoopSchedule; None keeps the lr constant
    history: History = field(default_factory=History)
    stopper: EarlyStopping = field(default_factory=lambda: EarlyStopping(0))
    running: RunningMetrics | None = None  # the current epoch's training metrics so far
    epoch: int = 0
    batch: int = 0
    step: int = 0

    @property
    def lr(self) -> float:
        """The learning rate the next step will use (of the first parameter group)."""
        return float(self.optimizer.param_groups[0]["lr"])


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return the generator that shuffles the batches."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from looplab.errors import ConfigError

        raise ConfigError("device 'cuda' asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(name)
