"""One mini-batch, seen: a grid of its images with their labels, or its rows highlighted on
the whole training split (lesson 2.5: a batch is a small random sample of the data)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from looplab.plots.style import DPI, PALETTE, new_figure


def image_grid(
    images: Tensor,
    titles: list[str],
    suptitle: str,
    columns: int = 8,
    colours: list[str] | None = None,
) -> Figure:
    """Images (count, C, H, W) with values in [0, 1], in rows of ``columns``, each titled (in
    ``colours[k]`` if given). Drawn as one mosaic in one axes, with the titles in a band above
    each image: one image to render, not one axes per image (several times faster)."""
    count = len(images)
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    channels, height, width = images.shape[1:]
    pad, band = max(1, width // 8), max(4, height // 2)  # pixels between images, title band
    cell_h, cell_w = height + band, width + pad
    grey = channels == 1
    mosaic = torch.zeros(rows * cell_h, columns * cell_w) if grey else torch.ones(
        rows * cell_h, columns * cell_w, 3
    )  # fmt: skip
    for k in range(count):
        r, c = divmod(k, columns)
        y, x = r * cell_h + band, c * cell_w + pad // 2
        picture = images[k].clamp(0, 1)  # (C, H, W)
        if grey:
            mosaic[y : y + height, x : x + width] = picture[0]
        else:
            mosaic[y : y + height, x : x + width] = picture.permute(1, 2, 0)
    size = 1.05 * columns + 0.3
    fig, ax = plt.subplots(figsize=(size, size * rows * cell_h / (columns * cell_w) + 0.5),
                           dpi=DPI, layout="constrained")  # fmt: skip
    ax.imshow(mosaic.numpy(), cmap="gray_r" if grey else None, vmin=0, vmax=1,
              interpolation="nearest")  # fmt: skip
    ax.set_axis_off()
    for k in range(count):
        r, c = divmod(k, columns)
        ax.text(c * cell_w + cell_w / 2, r * cell_h + band - 1, titles[k], ha="center",
                va="bottom", fontsize=7, color=colours[k] if colours else "black")  # fmt: skip
    fig.suptitle(suptitle, fontsize=10)
    return fig


def batch_on_points(
    all_X: Tensor,
    all_y: Tensor,
    X: Tensor,
    y: Tensor,
    feature_names: list[str],
    class_names: list[str],
    title: str,
) -> Figure:
    """The training rows in grey and the batch's rows in colour (by class), on the first two
    features; for one feature, against the target."""
    fig, ax = new_figure(6.0, 4.6)
    if all_X.shape[1] == 1:
        ax.scatter(all_X[:, 0], all_y, s=8, c="#BBBBBB", label="training rows")
        ax.scatter(X[:, 0], y, s=36, c=PALETTE[3], edgecolors="black", linewidths=0.6,
                   label="this batch")  # fmt: skip
        ax.set_xlabel(feature_names[0])
        ax.set_ylabel("y")
    else:
        ax.scatter(all_X[:, 0], all_X[:, 1], s=8, c="#CCCCCC", label="training rows")
        if not class_names:  # regression: the batch in one colour
            ax.scatter(X[:, 0], X[:, 1], s=36, c=PALETTE[3], edgecolors="black",
                       linewidths=0.6, label="this batch")  # fmt: skip
        else:
            for k in sorted(set(y.long().tolist())):
                at = y.long() == k
                colour = PALETTE[k % len(PALETTE)]
                ax.scatter(X[at, 0], X[at, 1], s=40, c=colour, edgecolors="black",
                           linewidths=0.6, label=f"batch: {class_names[k]}")  # fmt: skip
        ax.set_xlabel(feature_names[0])
        ax.set_ylabel(feature_names[1])
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title)
    return fig
