"""The model a run kept, measured on every split after training.

The history's ``train_*`` numbers are running averages over each epoch while the weights moved
(and with dropout on); with early stopping the weights kept are not even the last epoch's. So the
numbers a run reports as its result come from here: the kept model, in eval mode, on each split.
"""

from __future__ import annotations

from torch import nn

from looplab.data.batches import make_batches
from looplab.data.prepared import PreparedData
from looplab.loop.history import History
from looplab.loop.metrics import evaluate
from looplab.models.losses import TaskLoss
from looplab.run.build import VAL_BATCH

SPLITS = ("train", "validation", "test")


def evaluate_splits(model: nn.Module, data: PreparedData) -> dict[str, dict[str, float]]:
    """``{"train": {"loss": ..., ...}, "validation": ..., "test": ...}`` for the splits the data
    has: loss (on the standardized target for regression), accuracy or R^2 and MAE (in the
    target's units)."""
    device = next(model.parameters()).device
    sources = dict(zip(SPLITS, (data.train, data.val, data.test), strict=True))
    loss_fn = TaskLoss(data.task)
    return {
        name: evaluate(
            model,
            make_batches(source, VAL_BATCH, shuffle=False, device=device),
            loss_fn,
            data.task,
            target_scale=data.target_scale,
        )
        for name, source in sources.items()
        if source is not None
    }


def kept_epoch(history: History, patience: int) -> int:
    """The epoch whose weights ``fit`` returned: with early stopping on (``patience`` > 0), the
    first epoch of lowest validation loss (what :class:`~looplab.loop.early_stopping.EarlyStopping`
    restores), else the last one; 0 before any epoch."""
    rows = history.rows
    if patience <= 0 or not rows:
        return int(rows[-1]["epoch"]) if rows else 0
    best, epoch = float("inf"), int(rows[-1]["epoch"])
    for row in rows:
        watched = row.get("val_loss", row["train_loss"])
        if watched < best:  # strictly better, as the stopper counts; NaN never is
            best, epoch = watched, int(row["epoch"])
    return epoch
