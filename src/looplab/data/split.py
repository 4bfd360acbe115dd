"""Seeded train/validation/test splits, stratified by class for classification."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split
from torch import Tensor

from looplab.data.task_data import TaskData
from looplab.errors import DataError


@dataclass
class Split:
    """One part of a dataset: features ``X`` (rows, features) and targets ``y`` (rows,)."""

    X: Tensor
    y: Tensor

    def __len__(self) -> int:
        return len(self.X)


def split_indices(
    data: TaskData, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of train, validation and test; fractions are of all rows."""
    rows = np.arange(data.n_rows)
    labels = data.y.numpy() if data.task != "regression" else None
    train, val, test = rows, rows[:0], rows[:0]
    try:
        if test_fraction > 0:
            train, test = train_test_split(
                train, test_size=test_fraction, random_state=seed, stratify=labels
            )
        if val_fraction > 0:
            rest = labels[train] if labels is not None else None
            train, val = train_test_split(
                train,
                test_size=val_fraction / (1 - test_fraction),
                random_state=seed,
                stratify=rest,
            )
    except ValueError as exc:
        raise DataError(
            f"cannot split {data.n_rows} rows of {data.name!r} into "
            f"validation {val_fraction} and test {test_fraction}: {exc}; "
            "use more rows or other fractions"
        ) from None
    return np.asarray(train), np.asarray(val), np.asarray(test)
