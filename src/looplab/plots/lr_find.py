"""The range test's picture: loss against learning rate on a log axis, with the suggestion."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from looplab.experiments.lr_find import LRFinderResult
from looplab.plots.style import PALETTE, new_figure


def lr_find_plot(result: LRFinderResult, title: str) -> Figure:
    """Raw batch losses (faint), the smoothed loss (bold), the suggested rate and the rate at
    the lowest smoothed loss; the y axis stops short of the explosion so the valley shows."""
    fig, ax = new_figure(7.0, 4.6)
    lrs = np.asarray(result.lrs)
    raw, smooth = np.asarray(result.losses), np.asarray(result.smoothed)
    ax.plot(lrs, raw, color=PALETTE[0], alpha=0.3, lw=1, label="batch loss")
    ax.plot(lrs, smooth, color=PALETTE[0], lw=2, label="smoothed loss (moving average)")
    finite = smooth[np.isfinite(smooth)]
    if finite.size:
        low, start = float(finite.min()), float(finite[: max(1, len(finite) // 10)].max())
        top = max(start, low) * 1.15 + 1e-12
        ax.set_ylim(max(0.0, low - 0.1 * (top - low)), top)
    if math.isfinite(result.suggestion):
        s, y = result.suggestion, float(smooth[result.suggestion_index])
        ax.axvline(s, color=PALETTE[3], ls="--", lw=1.2)
        ax.plot(
            s,
            y,
            marker="o",
            ms=8,
            color=PALETTE[3],
            ls="none",
            label=f"suggested lr {s:.3g} (steepest fall)",
        )
    ax.axvline(
        result.min_lr,
        color=PALETTE[2],
        ls=":",
        lw=1.2,
        label=f"lowest smoothed loss at lr {result.min_lr:.3g}",
    )
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss (mean per example)")
    end = "stopped: loss exploded" if result.stopped_early else "reached the end lr"
    ax.set_title(f"{title}\n{result.steps} steps, {end}", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    return fig
