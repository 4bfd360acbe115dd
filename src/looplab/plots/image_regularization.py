"""Regularization on images as a figure: each remedy's validation accuracy and generalization
gap, mean over seeds with one standard deviation as error bars."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from looplab.experiments.image_regularization import RemedySeeds
from looplab.plots.style import DPI, PALETTE


def remedy_bars(results: Sequence[RemedySeeds], title: str) -> Figure:
    """Two panels of horizontal bars: validation accuracy (left) and training minus validation
    accuracy (right), per remedy, mean +/- std over seeds; the dashed line is no remedy."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 1.4 + 0.42 * len(results)), dpi=DPI,
                                      layout="constrained", sharey=True)  # fmt: skip
    y = np.arange(len(results))[::-1]  # "none" on top
    for ax, stat, colour, label in (
        (left, "val_accuracy", PALETTE[0], "validation accuracy"),
        (right, "accuracy_gap", PALETTE[1], "gap: training - validation accuracy"),
    ):
        means = np.array([getattr(r, stat)[0] for r in results])
        sds = np.nan_to_num(np.array([getattr(r, stat)[1] for r in results]))
        ax.barh(y, means, xerr=sds, color=colour, height=0.6, capsize=3)
        ax.axvline(means[0], color="black", linestyle="--", linewidth=0.8)
        for yi, m, s in zip(y, means, sds, strict=True):
            ax.annotate(f"{m:.3f} ± {s:.3f}", (m + s, yi), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=7)  # fmt: skip
        ax.set_xlabel(label)
        ax.margins(x=0.3)
        ax.grid(True, axis="x", alpha=0.3)
    low = min(r.val_accuracy[0] for r in results)
    left.set_xlim(max(0.0, low - 0.05), 1.0)
    left.set_yticks(y, [r.name for r in results])
    seeds = len(results[0].runs) if results else 0
    fig.suptitle(f"{title}; mean ± std over {seeds} seeds", fontsize=10)
    return fig
