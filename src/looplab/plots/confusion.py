"""A confusion matrix: rows are true classes, columns predicted, each cell a count."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from looplab.plots.style import new_figure


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], title: str
) -> Figure:
    """Counts of (true, predicted) pairs, with the count printed in each cell."""
    k = len(class_names)
    counts = sk_confusion_matrix(y_true, y_pred, labels=list(range(k)))
    size = 3.5 + 0.35 * k
    fig, ax = new_figure(size + 1, size)
    ax.grid(False)
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, label="examples")
    ticks = list(range(k))
    ax.set_xticks(
        ticks, class_names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center"
    )
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    threshold = counts.max() / 2 if counts.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                str(counts[i, j]),
                ha="center",
                va="center",
                fontsize="small",
                color="white" if counts[i, j] > threshold else "black",
            )
    ax.set_title(title)
    return fig
