"""Early stopping on validation loss: stop after ``patience`` epochs without improvement and
go back to the best weights seen."""

from __future__ import annotations

import copy
import math
from typing import Any

from torch import Tensor, nn


class EarlyStopping:
    """Tracks the best validation loss; ``patience`` of 0 only tracks and never stops."""

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.best_state: dict[str, Tensor] | None = None

    def update(self, epoch: int, val_loss: float, model: nn.Module) -> bool:
        """Record this epoch's validation loss; True when training should stop."""
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.bad_epochs = val_loss, epoch, 0
            if self.patience > 0:
                self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.bad_epochs += 1
        return 0 < self.patience <= self.bad_epochs

    def restore_best(self, model: nn.Module) -> None:
        """Load the best weights back into ``model`` (only when early stopping is on)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_loss": self.best_loss,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_loss = float(state["best_loss"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])
        self.best_state = state["best_state"]
