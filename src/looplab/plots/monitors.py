"""Figures of the per-layer monitors: gradient flow, layer statistics, activation histograms.

Each function reads a :class:`~looplab.loop.history.History` with monitor columns (or the
sampled activations) and returns a Figure; nothing here runs during training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from looplab.loop.history import History
from looplab.plots.style import DPI, PALETTE


def _layer_order(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def columns_of(history: History, stat: str) -> dict[str, list[float]]:
    """``{layer: values per epoch}`` of one monitor statistic, in layer order (no total)."""
    prefix = f"{stat}/"
    names = [c.removeprefix(prefix) for c in history.columns() if c.startswith(prefix)]
    names = sorted((n for n in names if n != "total"), key=_layer_order)
    return {n: history.column(prefix + n) for n in names}


def _colours(n: int) -> list[str | tuple[float, ...]]:
    """The house palette for a few lines; a sequential colormap (input side dark) for many."""
    if n <= len(PALETTE) - 1:
        return list(PALETTE[:n])
    cmap = colormaps["viridis"]
    return [cmap(i / max(n - 1, 1)) for i in range(n)]


def _plot_per_layer(ax: Axes, epochs: list[float], series: dict[str, list[float]]) -> None:
    colours = _colours(len(series))
    for (name, values), colour in zip(series.items(), colours, strict=True):
        ax.plot(epochs, values, color=colour, label=name)
    if len(series) <= 10:
        ax.legend(fontsize="small", ncols=2 if len(series) > 5 else 1)
    else:
        first, last = next(iter(series)), list(series)[-1]
        ax.text(
            0.01,
            0.02,
            f"dark: {first} (input side) ... yellow: {last}",
            transform=ax.transAxes,
            fontsize="small",
        )


def _positive_log(ax: Axes, series: dict[str, list[float]]) -> None:
    values = [v for vs in series.values() for v in vs if math.isfinite(v) and v > 0]
    if values and max(values) / min(values) > 50:
        ax.set_yscale("log")


def gradient_flow(history: History, title: str) -> Figure:
    """Left: each layer's gradient norm over epochs. Right: gradient norm against depth at the
    first, middle and last epoch; a line falling steeply to the left is a vanishing gradient."""
    series = columns_of(history, "grad_norm")
    if not series:
        raise ValueError("the history has no grad_norm/ columns: train with --monitor")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), dpi=DPI, layout="constrained")
    epochs = history.column("epoch")
    _plot_per_layer(left, epochs, series)
    _positive_log(left, series)
    left.set_xlabel("epoch")
    left.set_ylabel("gradient norm (mean over the epoch's steps)")
    left.set_title("per layer over epochs")
    names = list(series)
    depth = np.arange(1, len(names) + 1)
    picks = sorted({0, len(epochs) // 2, len(epochs) - 1})
    for colour, i in zip(PALETTE[3:], picks, strict=False):  # not the layers' colours
        values = [series[n][i] for n in names]
        right.plot(depth, values, marker="o", color=colour, label=f"epoch {epochs[i]:.0f}")
    if any(v > 0 for vs in series.values() for v in vs if math.isfinite(v)):
        right.set_yscale("log")
    step = max(1, len(names) // 10)
    right.set_xticks(depth[::step], names[::step], rotation=45 if len(names) > 6 else 0)
    right.set_xlabel("layer (input side on the left)")
    right.set_ylabel("gradient norm")
    right.set_title("against depth")
    right.legend(fontsize="small")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"Gradient flow — {title}")
    return fig


def layer_stats(history: History, title: str) -> Figure:
    """Four panels per layer over epochs: activation std, dead ReLU fraction (when ReLU),
    weight norm and update-to-weight ratio."""
    panels = [
        ("act_std", "activation std"),
        ("dead_frac", "dead ReLU fraction (never fired)"),
        ("weight_norm", "weight norm ||W||"),
        ("update_ratio", "update / weight ratio ||ΔW|| / ||W||"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), dpi=DPI, layout="constrained")
    epochs = history.column("epoch")
    for ax, (stat, label) in zip(axes.flat, panels, strict=True):
        series = columns_of(history, stat)
        if series:
            _plot_per_layer(ax, epochs, series)
            if stat != "dead_frac":
                _positive_log(ax, series)
            else:
                ax.set_ylim(-0.03, 1.03)
        else:
            ax.text(0.5, 0.5, "not measured (no ReLU layers)", ha="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"Layer statistics — {title}")
    return fig


def activation_histograms(
    samples: dict[int, dict[str, np.ndarray]], title: str, max_layers: int = 6
) -> Figure:
    """One panel per activation layer (at most ``max_layers``, evenly spread), each with the
    distribution of its outputs at the sampled epochs overlaid (the 0.5-99.5 percentile range;
    for ReLU-like layers the exact zeros are counted in the legend and left out of the bars)."""
    if not samples:
        raise ValueError("no activation samples: train with --monitor")
    epochs = sorted(samples)
    layers = sorted({n for e in epochs for n in samples[e]}, key=_layer_order)
    if len(layers) > max_layers:
        keep = np.linspace(0, len(layers) - 1, max_layers).round().astype(int)
        layers = [layers[i] for i in sorted(set(keep.tolist()))]
    cols = min(3, len(layers))
    rows = math.ceil(len(layers) / cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(3.8 * cols, 3.1 * rows + 0.6),
        dpi=DPI,
        layout="constrained",
        squeeze=False,
    )
    for ax, layer in zip(axes.flat, layers, strict=False):
        values = [
            v[np.isfinite(v)] for e in epochs if layer in samples[e] for v in (samples[e][layer],)
        ]
        pooled = np.concatenate(values) if values else np.array([])
        # ReLU-like layers output many exact zeros: count them in the legend, draw the rest.
        zeros_apart = pooled.size > 0 and float(np.mean(pooled == 0)) > 0.2
        shown = pooled[pooled != 0] if zeros_apart else pooled
        lo, hi = np.percentile(shown, [0.5, 99.5]) if shown.size else (0.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 41)
        for colour, epoch in zip(PALETTE, epochs, strict=False):
            if layer not in samples[epoch]:
                continue
            v = samples[epoch][layer]
            v = v[np.isfinite(v)]
            label = f"epoch {epoch}"
            if zeros_apart:
                label += f" ({np.mean(v == 0):.0%} exactly 0)"
                v = v[v != 0]
            ax.hist(
                v,
                bins=bins,
                histtype="step",
                density=True,
                color=colour,
                linewidth=1.5,
                label=label,
            )
        ax.set_title(layer + (" (non-zero outputs)" if zeros_apart else ""))
        ax.set_xlabel("activation value")
        ax.set_ylabel("density")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small")
    for ax in list(axes.flat)[len(layers) :]:
        ax.set_visible(False)
    fig.suptitle(f"Activation histograms — {title}")
    return fig


def gradient_ratio(history: History) -> list[float]:
    """First layer's gradient norm over the last layer's, per epoch (small: vanishing)."""
    series = columns_of(history, "grad_norm")
    names: Sequence[str] = list(series)
    if len(names) < 2:
        return []
    first, last = series[names[0]], series[names[-1]]
    return [a / b if b > 0 else math.nan for a, b in zip(first, last, strict=True)]
