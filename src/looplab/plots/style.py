"""Shared figure style: the Agg backend, a colour-blind-safe palette, one dpi."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")  # files only: no screen, no GUI toolkit

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
# For lines on white: the palette without its yellow, which is too faint for a thin line.
LINE_COLOURS = [c for c in PALETTE if c != "#F0E442"]
DPI = 120


def new_figure(width: float = 6.4, height: float = 4.2) -> tuple[Figure, Axes]:
    """A figure with one axes, in the house style."""
    fig, ax = plt.subplots(figsize=(width, height), dpi=DPI, layout="constrained")
    ax.set_prop_cycle(color=PALETTE)
    ax.grid(True, alpha=0.3)
    return fig, ax


def wrapped(title: str, width: int = 58) -> str:
    """A title folded at ``width`` characters a line, so a long run description is not clipped
    by the figure's edge (figures here are 6-6.4 inches wide)."""
    return "\n".join(textwrap.fill(line, width) for line in title.splitlines())


def fit_titles(fig: Figure) -> Figure:
    """Fold every axes title and the figure's suptitle so each line fits the width it has (its
    axes, or the figure): a long run description is never clipped by the figure's edge, whoever
    drew the figure. Called by :func:`save` and the report before a figure is written."""
    fig.canvas.draw()  # lays the figure out: the widths below are the drawn ones
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    texts: list[tuple[Text, float]] = [
        (ax.title, ax.get_window_extent(renderer).width) for ax in fig.axes
    ]
    texts += [(text, 0.96 * fig.bbox.width) for text in fig.texts]  # the suptitle is one
    for text, room in texts:
        content = text.get_text()
        width = text.get_window_extent(renderer).width
        if not content or width <= room:
            continue
        longest = max(len(line) for line in content.splitlines())
        per_line = max(20, int(longest * room / width) - 1)  # characters that fit
        text.set_text(wrapped(content, per_line))
    return fig


def save(fig: Figure, path: str) -> None:
    """Write a PNG (titles folded to fit) and free the figure's memory."""
    fit_titles(fig)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
