"""Training curves from a History: loss, and accuracy or R^2, per epoch, with the epoch whose
weights the run kept marked when early stopping chose it."""

from __future__ import annotations

import math

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from looplab.loop.history import History
from looplab.plots.style import PALETTE, new_figure, wrapped

LOSS_LABEL = "loss (mean per example)"


def _mark_kept(ax: Axes, history: History, column: str, kept_epoch: int | None) -> None:
    """A dashed line at the kept epoch and a dot on the validation curve there."""
    if kept_epoch is None or kept_epoch < 1:
        return
    ax.axvline(kept_epoch, color="black", ls="--", lw=1, label=f"kept weights: epoch {kept_epoch}")
    rows = [r for r in history.rows if int(r["epoch"]) == kept_epoch]
    value = rows[0].get(column, math.nan) if rows else math.nan
    if math.isfinite(value):
        ax.plot([kept_epoch], [value], "o", color="black", ms=5)


def loss_curves(
    history: History, title: str, kept_epoch: int | None = None, ylabel: str = LOSS_LABEL
) -> Figure:
    """Train and validation loss per epoch; a log scale when the loss spans decades. With
    ``kept_epoch`` (early stopping's best epoch), that epoch is marked."""
    fig, ax = new_figure()
    epochs = history.column("epoch")
    for split, colour in (("train", PALETTE[0]), ("val", PALETTE[1])):
        values = history.column(f"{split}_loss")
        if any(math.isfinite(v) for v in values):
            name = "validation" if split == "val" else "train"
            ax.plot(epochs, values, label=f"{name} loss", color=colour)
    finite = [v for v in history.column("train_loss") if math.isfinite(v) and v > 0]
    if finite and max(finite) / min(finite) > 100:
        ax.set_yscale("log")
    _mark_kept(ax, history, "val_loss", kept_epoch)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(wrapped(title))
    ax.legend()
    return fig


def metric_curves(history: History, task: str, title: str, kept_epoch: int | None = None) -> Figure:
    """Accuracy (classification) or R^2 (regression) per epoch, train and validation; with
    ``kept_epoch``, that epoch is marked."""
    metric, label = ("r2", "R$^2$") if task == "regression" else ("accuracy", "accuracy")
    fig, ax = new_figure()
    epochs = history.column("epoch")
    for split, colour in (("train", PALETTE[0]), ("val", PALETTE[1])):
        values = history.column(f"{split}_{metric}")
        if any(math.isfinite(v) for v in values):
            name = "validation" if split == "val" else "train"
            ax.plot(epochs, values, label=f"{name} {label}", color=colour)
    _mark_kept(ax, history, f"val_{metric}", kept_epoch)
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
    if metric == "accuracy":
        ax.set_ylim(top=1.01)
    ax.set_title(wrapped(title))
    ax.legend()
    return fig
