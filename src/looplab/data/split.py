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
    labels = data.y.numpy().astype(np.int64) if data.task != "regression" else None
    train, val, test = rows, rows[:0], rows[:0]
    try:
        if test_fraction > 0:
            _check_stratifiable(data, labels, "test")
            train, test = train_test_split(
                train, test_size=test_fraction, random_state=seed, stratify=labels
            )
        if val_fraction > 0:
            rest = labels[train] if labels is not None else None
            _check_stratifiable(data, rest, "validation")
            train, val = train_test_split(
                train,
                test_size=val_fraction / (1 - test_fraction),
                random_state=seed,
                stratify=rest,
            )
    except ValueError as exc:
        # scikit-learn's reason, on one line; stratified, it is that a part is smaller than
        # the number of classes
        why = (
            " ".join(str(exc).split())
            if labels is None
            else (f"every part needs a row of each of its {len(data.class_names)} classes")
        )
        raise DataError(
            f"cannot split {data.n_rows} rows of {data.name!r} into "
            f"validation {val_fraction} and test {test_fraction}: {why}; "
            f"use more rows or other fractions{_regression_hint(data)}"
        ) from None
    return np.asarray(train), np.asarray(val), np.asarray(test)


def _check_stratifiable(data: TaskData, labels: np.ndarray | None, part: str) -> None:
    """Refuse, naming them, classes with fewer than 2 rows: a stratified split needs 2."""
    if labels is None:
        return
    counts = np.bincount(labels, minlength=len(data.class_names))
    small = [(i, int(n)) for i, n in enumerate(counts) if n == 1]
    if not small:
        return
    names = [data.class_names[i] if i < len(data.class_names) else str(i) for i, _ in small]
    listed = ", ".join(repr(n) for n in names[:3]) + (
        f" and {len(names) - 3} more" if len(names) > 3 else ""
    )
    which = f"class {listed} has" if len(small) == 1 else f"classes {listed} have"
    those = "that class" if len(small) == 1 else "those classes"
    hint = _regression_hint(data)
    fix = f"{hint}, else add rows of {those}" if hint else f"; add rows of {those}"
    raise DataError(
        f"cannot split {data.name!r} into training and {part} rows stratified by class: "
        f"{which} only 1 row (2 are needed){fix}"
    )


def _regression_hint(data: TaskData) -> str:
    """'; if 'y' is a quantity, ... --task regression' for a CSV target of whole numbers."""
    target = data.encoding.get("target")
    if target is None or not all(_is_number(c) for c in data.class_names):
        return ""
    return f"; if {target!r} is a quantity rather than a label, use --task regression"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
