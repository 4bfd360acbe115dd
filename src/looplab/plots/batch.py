"""One mini-batch, seen: a grid of its images with their labels, or its rows highlighted on
the whole training split (lesson 2.5: a batch is a small random sample of the data)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
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
    ``colours[k]`` if given)."""
    count = len(images)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.05 * columns + 0.3, 1.2 * rows + 0.6),
                             dpi=DPI, layout="constrained", squeeze=False)  # fmt: skip
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= count:
            continue
        picture = images[k].permute(1, 2, 0).clamp(0, 1).numpy()  # (H, W, C)
        if picture.shape[2] == 1:
            ax.imshow(picture[:, :, 0], cmap="gray_r", vmin=0, vmax=1)
        else:
            ax.imshow(picture)
        ax.set_title(titles[k], fontsize=8, color=colours[k] if colours else "black")
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
