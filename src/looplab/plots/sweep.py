"""Sweep figures: every configuration's curve as mean +/- std over seeds, and the final metric
per configuration with its spread."""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from looplab.experiments.sweep import CellSummary, RunOutcome
from looplab.plots.style import PALETTE, new_figure

LINESTYLES = ["-", "--", ":", "-."]


def _by_cell(outcomes: Sequence[RunOutcome]) -> dict[int, list[RunOutcome]]:
    cells: dict[int, list[RunOutcome]] = {}
    for outcome in outcomes:
        cells.setdefault(outcome.point.cell, []).append(outcome)
    return cells


def band_curves(outcomes: Sequence[RunOutcome], column: str, ylabel: str, title: str) -> Figure:
    """``column`` per epoch for each configuration: the mean over seeds as a line, +/- one
    standard deviation as a band (runs cut short by early stopping count while they last)."""
    fig, ax = new_figure(7.2, 4.6)
    cells = _by_cell(outcomes)
    shown: list[np.ndarray] = []
    for k, runs in enumerate(cells.values()):
        length = max(len(r.rows) for r in runs)
        values = np.full((len(runs), length), np.nan)  # (seeds, epochs)
        for i, r in enumerate(runs):
            values[i, : len(r.rows)] = [row.get(column, math.nan) for row in r.rows]
        with warnings.catch_warnings():  # an epoch no seed reached is NaN, on purpose
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        epochs = np.arange(1, length + 1)
        colour = PALETTE[k % len(PALETTE)]
        style = LINESTYLES[(k // len(PALETTE)) % len(LINESTYLES)]
        seeds = f" ({len(runs)} seeds)" if len(runs) > 1 else ""
        ax.plot(epochs, mean, color=colour, ls=style, lw=1.6, label=runs[0].point.label + seeds)
        if len(runs) > 1:
            ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.18, lw=0)
        shown.append(values[np.isfinite(values)])
    every = np.concatenate(shown) if shown else np.array([])
    if "loss" in column and every.size and every.min() > 0 and every.max() / every.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(textwrap.fill(title, 75), fontsize=10)
    ax.legend(fontsize=8, ncol=2 if len(cells) > 6 else 1)
    return fig


def final_metric_bars(summaries: Sequence[CellSummary], ylabel: str, title: str) -> Figure:
    """The final metric of each configuration, mean over seeds, with +/- std error bars."""
    width = max(6.4, 0.7 * len(summaries) + 2)
    fig, ax = new_figure(width, 4.4)
    labels = [s.label.replace(", ", "\n") for s in summaries]
    means = [s.final_mean for s in summaries]
    stds = [s.final_std for s in summaries]
    x = np.arange(len(summaries))
    ax.bar(x, means, yerr=stds, capsize=4, color=[PALETTE[k % len(PALETTE)] for k in x])
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
    ax.set_title(textwrap.fill(title, 75), fontsize=10)
    finite = [m for m in means if math.isfinite(m)]
    if finite and min(finite) >= 0 and max(finite) <= 1:
        ax.set_ylim(0.0, 1.1)
    return fig
