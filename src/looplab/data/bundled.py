"""Real datasets bundled with scikit-learn: nothing is downloaded. scikit-learn is imported
only when one of them is loaded."""

from __future__ import annotations

from typing import Any

import torch

from looplab.config import Task
from looplab.data.task_data import TaskData


def _from_sklearn(name: str, bunch: Any, task: Task) -> TaskData:
    feature_names = [str(f) for f in getattr(bunch, "feature_names", [])] or [
        f"pixel {i // 8},{i % 8}" for i in range(bunch.data.shape[1])
    ]
    return TaskData(
        name,
        torch.from_numpy(bunch.data),
        torch.from_numpy(bunch.target),
        task,
        feature_names,
        [str(c) for c in bunch.target_names],
    )


def digits() -> TaskData:
    """8x8 images of handwritten digits 0-9, 64 grey levels each (1,797 rows)."""
    from sklearn import datasets as skd

    return _from_sklearn("digits", skd.load_digits(), "multiclass")


def iris() -> TaskData:
    """Fisher's iris flowers: 4 measurements, 3 species (150 rows)."""
    from sklearn import datasets as skd

    return _from_sklearn("iris", skd.load_iris(), "multiclass")


def wine() -> TaskData:
    """Chemical analysis of wines from 3 cultivars (178 rows, 13 features)."""
    from sklearn import datasets as skd

    return _from_sklearn("wine", skd.load_wine(), "multiclass")


def breast_cancer() -> TaskData:
    """Wisconsin breast cancer: 30 cell-nucleus features, malignant or benign (569 rows)."""
    from sklearn import datasets as skd

    return _from_sklearn("breast_cancer", skd.load_breast_cancer(), "binary")
