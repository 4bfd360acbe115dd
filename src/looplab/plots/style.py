"""Shared figure style: the Agg backend, a colour-blind-safe palette, one dpi."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")  # files only: no screen, no GUI toolkit

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
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


def save(fig: Figure, path: str) -> None:
    """Write a PNG and free the figure's memory."""
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
