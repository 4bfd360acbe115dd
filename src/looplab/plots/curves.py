"""Training curves from a History: loss, and accuracy or R^2, per epoch."""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from looplab.loop.history import History
from looplab.plots.style import PALETTE, new_figure, wrapped


def loss_curves(history: History, title: str) -> Figure:
    """Train and validation loss per epoch; a log scale when the loss spans decades."""
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
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (mean per example)")
    ax.set_title(wrapped(title))
    ax.legend()
    return fig


def metric_curves(history: History, task: str, title: str) -> Figure:
    """Accuracy (classification) or R^2 (regression) per epoch, train and validation."""
    metric, label = ("r2", "R$^2$") if task == "regression" else ("accuracy", "accuracy")
    fig, ax = new_figure()
    epochs = history.column("epoch")
    for split, colour in (("train", PALETTE[0]), ("val", PALETTE[1])):
        values = history.column(f"{split}_{metric}")
        if any(math.isfinite(v) for v in values):
            name = "validation" if split == "val" else "train"
            ax.plot(epochs, values, label=f"{name} {label}", color=colour)
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
    if metric == "accuracy":
        ax.set_ylim(top=1.01)
    ax.set_title(wrapped(title))
    ax.legend()
    return fig
