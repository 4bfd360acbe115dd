"""The regularization demo as a figure: each remedy's training and validation loss side by side,
the gap between them written beside each pair."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from looplab.experiments.regularization import RemedyResult
from looplab.plots.style import PALETTE, new_figure


def gap_bars(results: Sequence[RemedyResult], title: str) -> Figure:
    """Horizontal bars per remedy: training loss and validation loss of its final model; the
    longer the orange bar is than the blue one, the more the model memorized."""
    fig, ax = new_figure(7.2, 1.2 + 0.55 * len(results))
    y = np.arange(len(results))[::-1]  # the first remedy ("none") on top
    height = 0.38
    train = [r.train_loss for r in results]
    val = [r.val_loss for r in results]
    ax.barh(y + height / 2, train, height, color=PALETTE[0], label="training loss")
    ax.barh(y - height / 2, val, height, color=PALETTE[1], label="validation loss")
    for yi, r in zip(y, results, strict=True):
        end = max(v for v in (r.train_loss, r.val_loss, 0.0) if math.isfinite(v))
        ax.annotate(f"gap {r.gap:.3g}", (end, yi), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8)  # fmt: skip
    ax.set_yticks(y, [r.name for r in results])
    ax.set_xlabel("loss of the final model (mean per example)")
    ax.margins(x=0.18)  # room for the gap labels
    ax.grid(True, axis="x", alpha=0.3)
    ax.grid(False, axis="y")
    fig.suptitle(title, fontsize=10)  # the figure's width: the remedy names take the axes'
    fig.legend(loc="outside lower center", ncols=2, fontsize=8)  # never over a bar
    return fig
