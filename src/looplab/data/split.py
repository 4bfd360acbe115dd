"""Seeded train/validation/test splits, stratified by class for classification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from looplab.data.shuffle_split import SplitSizeError, shuffled_split, stratified_split
from looplab.errors import DataError

if TYPE_CHECKING:
    from torch import Tensor

    from looplab.data.task_data import TaskData


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
    """Row indices of train, validation and test; fractions are of all rows. The rows are those
    of scikit-learn's ``train_test_split`` (stratified by class for classification), test split
    off first, then validation from the rest, both with ``seed``."""
    rows = np.arange(data.n_rows)
    labels = data.y.numpy().astype(np.int64) if data.task != "regression" else None
    train, val, test = rows, rows[:0], rows[:0]
    try:
        if test_fraction > 0:
            _check_stratifiable(data, labels, "test")
            train, test = _split(train, labels, test_fraction, seed)
        if val_fraction > 0:
            rest = labels[train] if labels is not None else None
            _check_stratifiable(data, rest, "validation")
            train, val = _split(train, rest, val_fraction / (1 - test_fraction), seed)
    except SplitSizeError as exc:
        # stratified, a part is smaller than the number of classes
        why = (
            str(exc)
            if labels is None
            else (f"every part needs a row of each of its {len(data.class_names)} classes")
        )
        raise DataError(
            f"cannot split {data.n_rows} rows of {data.name!r} into "
            f"validation {val_fraction} and test {test_fraction}: {why}; "
            f"use more rows or other fractions{_regression_hint(data)}"
        ) from None
    return np.asarray(train), np.asarray(val), np.asarray(test)


def _split(
    rows: np.ndarray, labels: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if labels is None:
        return shuffled_split(rows, fraction, seed)
    return stratified_split(rows, labels, fraction, seed)


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
