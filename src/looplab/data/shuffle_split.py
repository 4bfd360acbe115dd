"""Seeded random splits of row indices, row for row those of scikit-learn's ``train_test_split``.

The same draws from the same ``numpy.random.RandomState(seed)`` in the same order, so a run
splits its rows exactly as it did with scikit-learn (``tests/data/test_shuffle_split.py``
compares the two), without importing scikit-learn: that import alone costs about as much as a
one-epoch ``looplab train`` (it pulls in SciPy).
"""

from __future__ import annotations

import math

import numpy as np


class SplitSizeError(ValueError):
    """A part of the split would be empty, or too small to hold a row of every class."""


def part_sizes(n_rows: int, fraction: float) -> tuple[int, int]:
    r"""(kept, split off) row counts: $\lceil f n \rceil$ split off, the rest kept."""
    n_off = math.ceil(fraction * n_rows)
    n_kept = n_rows - n_off
    if n_kept <= 0:
        raise SplitSizeError(f"splitting off {n_off} of {n_rows} rows leaves none to train on")
    return n_kept, n_off


def shuffled_split(rows: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` shuffled and cut in two: (kept, split off), ``fraction`` of them split off."""
    n_kept, n_off = part_sizes(len(rows), fraction)
    permutation = np.random.RandomState(seed).permutation(len(rows))
    return rows[permutation[n_off : n_off + n_kept]], rows[permutation[:n_off]]


def stratified_split(
    rows: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`shuffled_split`, with each class's share of ``rows`` kept in both parts
    (``labels[i]`` is the class of ``rows[i]``; every class needs at least 2 rows)."""
    n_kept, n_off = part_sizes(len(rows), fraction)
    _, codes, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    n_classes = len(class_counts)
    if class_counts.min() < 2:
        raise SplitSizeError("a class has only 1 row")
    if min(n_kept, n_off) < n_classes:
        raise SplitSizeError(f"a part of {min(n_kept, n_off)} rows cannot hold {n_classes} classes")
    # the positions of each class, in order
    by_class = np.split(np.argsort(codes, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(seed)
    kept_per_class = _apportion(class_counts, n_kept, rng)
    off_per_class = _apportion(class_counts - kept_per_class, n_off, rng)
    kept: list[np.ndarray] = []
    off: list[np.ndarray] = []
    for positions, n_k, n_o in zip(by_class, kept_per_class, off_per_class, strict=True):
        shuffled = positions.take(rng.permutation(len(positions)), mode="clip")
        kept.append(shuffled[:n_k])
        off.append(shuffled[n_k : n_k + n_o])
    kept_positions = rng.permutation(np.concatenate(kept))
    off_positions = rng.permutation(np.concatenate(off))
    return rows[kept_positions], rows[off_positions]


def _apportion(counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Split ``n_draws`` between classes in proportion to ``counts``: each gets the floor of its
    share, and the rows left over go to the largest remainders (ties drawn at random)."""
    share = counts / counts.sum() * n_draws
    taken = np.floor(share)
    left = int(n_draws - taken.sum())
    remainder = share - taken
    for value in np.sort(np.unique(remainder))[::-1]:
        if left <= 0:
            break
        (tied,) = np.where(remainder == value)
        add = min(len(tied), left)
        taken[rng.choice(tied, size=add, replace=False)] += 1
        left -= add
    counts_taken: np.ndarray = taken.astype(int)
    return counts_taken
