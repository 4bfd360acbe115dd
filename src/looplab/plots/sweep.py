"""Sweep figures: every configuration's curve as mean +/- std over seeds, and the final metric
per configuration with its spread."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from looplab.experiments.sweep import CellSummary, RunOutcome
from looplab.plots.style import DPI, LINE_COLOURS, new_figure, wrapped

LINESTYLES = ["-", "--", ":", "-."]
MAX_LINES = 6  # configurations one panel holds before a two-field grid becomes small multiples


def _by_cell(outcomes: Sequence[RunOutcome]) -> dict[int, list[RunOutcome]]:
    cells: dict[int, list[RunOutcome]] = {}
    for outcome in outcomes:
        cells.setdefault(outcome.point.cell, []).append(outcome)
    return cells


def _series(
    ax: Axes, runs: list[RunOutcome], column: str, style: tuple[str, str], label: str
) -> tuple[Line2D, np.ndarray]:
    """One configuration on ``ax``: the mean over seeds as a line, +/- one std as a band (runs
    cut short by early stopping count while they last); returns the line and the values."""
    length = max(len(r.rows) for r in runs)
    values = np.full((len(runs), length), np.nan)  # (seeds, epochs)
    for i, r in enumerate(runs):
        values[i, : len(r.rows)] = [row.get(column, math.nan) for row in r.rows]
    with warnings.catch_warnings():  # an epoch no seed reached is NaN, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    epochs = np.arange(1, length + 1)
    colour, linestyle = style
    seeds = f" ({len(runs)} seeds)" if len(runs) > 1 else ""
    (line,) = ax.plot(epochs, mean, color=colour, ls=linestyle, lw=1.6, label=label + seeds)
    if len(runs) > 1:
        ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.18, lw=0)
    return line, values[np.isfinite(values)]


def line_style(k: int) -> tuple[str, str]:
    """The k-th series' colour and line style: the palette's line colours, then again dashed."""
    return LINE_COLOURS[k % len(LINE_COLOURS)], LINESTYLES[(k // len(LINE_COLOURS)) % 4]


def band_curves(
    outcomes: Sequence[RunOutcome],
    column: str,
    ylabel: str,
    title: str,
    names: Sequence[str] = (),
) -> Figure:
    """``column`` per epoch for each configuration, mean +/- std over seeds, the legend beside
    the plot (never over the data). A two-field grid of more than ``MAX_LINES`` configurations
    becomes small multiples: one panel per value of the first field (``names``, the varied
    fields), one line per value of the second, coloured alike in every panel."""
    cells = list(_by_cell(outcomes).values())
    panels: dict[str, list[list[RunOutcome]]] = {"": cells}
    if len(names) == 2 and len(cells) > MAX_LINES:
        panels = {}
        for runs in cells:
            panels.setdefault(f"{names[0]}={runs[0].point.values[0]}", []).append(runs)
    cols = min(len(panels), 2 if len(panels) == 4 else 3)
    rows = math.ceil(len(panels) / cols)
    size = (2.2 + 3.6 * cols, 1.0 + 3.1 * rows)
    fig, axes = plt.subplots(rows, cols, figsize=size, dpi=DPI, layout="constrained",
                             sharex=True, sharey=True, squeeze=False)  # fmt: skip
    styles: dict[str, tuple[str, str]] = {}  # the same series gets the same look in each panel
    handles: dict[str, Line2D] = {}
    shown: list[np.ndarray] = []
    for ax, (panel, panel_cells) in zip(axes.flat, panels.items(), strict=False):
        for runs in panel_cells:
            key = runs[0].point.values[-1] if panel else runs[0].point.label
            label = f"{names[1]}={key}" if panel else key
            style = styles.setdefault(label, line_style(len(styles)))
            handles[label], values = _series(ax, runs, column, style, label)
            shown.append(values)
        ax.set_title(panel, fontsize=10)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    every = np.concatenate(shown) if shown else np.array([])
    if "loss" in column and every.size and every.min() > 0 and every.max() / every.min() > 100:
        axes[0, 0].set_yscale("log")  # shared by every panel
    for ax in axes[-1, :]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    fig.suptitle(wrapped(title, 75), fontsize=10)
    fig.legend(handles=list(handles.values()), loc="outside right center", fontsize=8)
    return fig


def final_metric_bars(summaries: Sequence[CellSummary], ylabel: str, title: str) -> Figure:
    """The final metric of each configuration, mean over seeds, with +/- std error bars; bars
    coloured as the curves of :func:`band_curves` (by the second field of a two-field grid)."""
    width = max(6.4, 0.7 * len(summaries) + 2)
    fig, ax = new_figure(width, 4.4)
    labels = [s.label.replace(", ", "\n") for s in summaries]
    means = [s.final_mean for s in summaries]
    stds = [s.final_std for s in summaries]
    x = np.arange(len(summaries))
    keys = [s.values[-1] if len(s.values) == 2 else s.label for s in summaries]
    order = list(dict.fromkeys(keys))  # the curves' colours: by the second field, if any
    colours = [line_style(order.index(key))[0] for key in keys]
    ax.bar(x, means, yerr=stds, capsize=4, color=colours)
    for xi, m, sd in zip(x, means, stds, strict=True):
        if math.isfinite(m):
            top = m + (sd if math.isfinite(sd) else 0.0)
            ax.annotate(
                f"{m:.3g}",
                (xi, top),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax.set_xticks(x, labels, fontsize=8, rotation=30 if len(summaries) > 6 else 0)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("configuration")
    ax.set_title(wrapped(title, 75), fontsize=10)
    finite = [m for m in means if math.isfinite(m)]
    if finite and min(finite) >= 0 and max(finite) <= 1:
        ax.set_ylim(0.0, 1.1)
    return fig
