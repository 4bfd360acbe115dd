"""Which classes a classifier mixes up: the off-diagonal cells of its confusion matrix, most
frequent first."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ConfusedPair:
    """``count`` examples of class ``true`` were predicted as ``predicted``: ``share`` of all
    the examples of ``true``."""

    true: int
    predicted: int
    count: int
    share: float


def most_confused(y_true: Tensor, y_pred: Tensor, classes: int, top: int = 5) -> list[ConfusedPair]:
    """The ``top`` most frequent (true, predicted) pairs with true != predicted, by count (ties:
    by true class, then predicted class); pairs that never happen are left out."""
    pairs = y_true.long() * classes + y_pred.long()  # (rows,) one cell index per example
    counts = torch.bincount(pairs, minlength=classes * classes).reshape(classes, classes)
    per_class = counts.sum(dim=1)  # (classes,) examples of each true class
    cells = [
        ConfusedPair(t, p, int(counts[t, p]), float(counts[t, p]) / int(per_class[t]))
        for t in range(classes)
        for p in range(classes)
        if t != p and counts[t, p] > 0
    ]
    cells.sort(key=lambda c: (-c.count, c.true, c.predicted))
    return cells[:top]
