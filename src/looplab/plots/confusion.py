"""A confusion matrix: rows are true classes, columns predicted, each cell a count."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from looplab.plots.style import new_figure


def count_pairs(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row ``i``, column ``j`` is how many examples of class ``i`` were predicted
    ``j`` (scikit-learn's ``confusion_matrix`` with labels 0..k-1, without importing it)."""
    pairs = y_true.astype(np.int64) * k + y_pred.astype(np.int64)  # (examples,)
    return np.bincount(pairs, minlength=k * k).reshape(k, k)


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], title: str
) -> Figure:
    """Counts of (true, predicted) pairs, with the count printed in each cell."""
    k = len(class_names)
    counts = count_pairs(y_true, y_pred, k)
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
