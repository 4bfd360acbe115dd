"""The batch-size comparison: loss per epoch and loss per update, mean +/- std across seeds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from looplab.experiments.compare import Comparison
from looplab.plots.style import DPI, PALETTE


def _band(
    ax: Axes, x: np.ndarray, curves: np.ndarray, colour: str, label: str, lw: float, z: int
) -> np.ndarray:
    """The mean of ``curves`` (seeds, points) as a line, +/- one std as a shaded band; returns
    the mean."""
    mean: np.ndarray = curves.mean(axis=0)  # (points,)
    ax.plot(x, mean, color=colour, label=label, linewidth=lw, zorder=2 * z + 1)
    if len(curves) > 1:
        std = curves.std(axis=0, ddof=1)
        low = np.maximum(mean - std, mean / 4)  # a log axis cannot show <= 0
        ax.fill_between(x, low, mean + std, color=colour, alpha=0.2, linewidth=0, zorder=2 * z)
    return mean


def compare_figure(result: Comparison) -> Figure:
    """Left: loss of the whole training split per epoch. Right: the batch's loss at every
    update, against the update count on a log axis (small batches make many more updates)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.8, 4.8), dpi=DPI, layout="constrained")
    means = []
    for i, size in enumerate(result.batch_sizes):  # later (larger) batches drawn on top
        runs = result.of(size)
        colour = PALETTE[i % len(PALETTE)]
        per = runs[0].updates_per_epoch
        label = f"{runs[0].label} ({per} update{'s' if per > 1 else ''}/epoch)"
        epochs = np.stack([r.epoch_loss for r in runs])  # (seeds, epochs + 1)
        _band(left, np.arange(epochs.shape[1]), epochs, colour, label, 2.0, i)
        updates = np.stack([r.update_loss for r in runs])  # (seeds, updates)
        x = np.arange(1, updates.shape[1] + 1)
        means.append(_band(right, x, updates, colour, label, 0.8, i))
    finite = np.concatenate(means)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size:  # single-example losses touch 0: show the bulk, not the rare near-zeros
        right.set_ylim(bottom=float(np.percentile(finite, 2)) / 2)
    c = result.config
    seeds = len(result.seeds)
    for ax in (left, right):
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        mse = "loss (MSE on the standardized target)" if c.standardize_target else "loss (MSE)"
        ax.set_ylabel(mse if c.dataset in ("linear", "sine") else "loss")
        ax.legend(fontsize="small")
    left.set_xlabel("epoch (0: initial weights)")
    left.set_title("loss of the whole training split, per epoch")
    right.set_xscale("log")
    right.set_xlabel("update (optimizer step), log scale")
    right.set_title("loss of each update's batch (before its step)")
    band = f"mean +/- std over {seeds} seeds" if seeds > 1 else "1 seed"
    model = "linear model" if c.model == "linear" else f"MLP {','.join(map(str, c.hidden))}"
    fig.suptitle(
        f"{c.optimizer.upper()} on {c.dataset} ({result.train_rows} training rows), {model}, "
        f"lr {c.lr:g}, {c.epochs} epochs; {band}"
    )
    return fig
