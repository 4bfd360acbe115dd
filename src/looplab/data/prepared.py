"""Data ready for ``fit``: split, imputed and standardized with train-only statistics (the
features, and a regression target unless ``standardize_target`` is off)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from looplab.config import FLOAT32_MAX, Config, Task
from looplab.data.preprocess import Preprocessor
from looplab.data.registry import load_dataset
from looplab.data.split import Split, split_indices
from looplab.data.task_data import TaskData, Truth
from looplab.errors import DataError, listing

# In-memory tensors (fast: batched by slicing), or any torch Dataset / DataLoader (streamed).
Source = Split | TorchDataset[Any] | DataLoader[Any]


@dataclass
class PreparedData:
    """What ``fit`` trains on: a training source, an optional validation and test source."""

    train: Source
    val: Source | None
    task: Task
    test: Source | None = None
    name: str = "data"
    feature_names: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    encoding: dict[str, Any] = field(default_factory=dict)
    preprocessor: Preprocessor | None = None
    notes: list[str] = field(default_factory=list)
    truth: Truth | None = None  # the noise-free y(x) of a synthetic regression, in raw units

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_outputs(self) -> int:
        """Width of the model's output: one logit per class for multiclass, else one."""
        return len(self.class_names) if self.task == "multiclass" else 1

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(channels, height, width) of image data, () for rows of features."""
        return tuple(self.encoding.get("image_shape", ()))

    @property
    def target_name(self) -> str:
        """The target's name: its CSV column, else ``y``."""
        return str(self.encoding.get("target", "y"))

    @property
    def target_scale(self) -> float:
        """What one unit of the target the model sees is in the target's own units: the
        training standard deviation of a standardized regression target, else 1."""
        return self.preprocessor.target_std if self.preprocessor is not None else 1.0


def check_values(data: TaskData) -> None:
    """Features and targets that float32 can hold: an infinite feature (a value past 3.4e38
    becomes one in float32) or a non-finite target would make every standardized value NaN,
    so name the column and the rows before anything is fitted. A NaN feature is a missing
    value, which imputation fills."""
    infinite = torch.isinf(data.X)  # (rows, features)
    if bool(infinite.any()):
        col = int(torch.nonzero(infinite.any(dim=0))[0, 0])
        rows = (torch.nonzero(infinite[:, col]).flatten() + 1).tolist()
        name = data.feature_names[col] if col < len(data.feature_names) else f"#{col + 1}"
        raise DataError(
            f"feature {name!r} of {data.name!r} holds values beyond float32 (inf, or past "
            f"{FLOAT32_MAX:.4g}) in {len(rows):,} data row(s): {listing(rows, 5)}; fix or remove "
            "those rows"
        )
    bad = ~torch.isfinite(data.y.double())
    if bool(bad.any()):
        rows = (torch.nonzero(bad).flatten() + 1).tolist()
        raise DataError(
            f"the target of {data.name!r} is not a finite number in {len(rows):,} data row(s): "
            f"{listing(rows, 5)}; fix or remove those rows"
        )


def prepare(data: TaskData, config: Config) -> PreparedData:
    """Split ``data`` as ``config`` says, then fit the preprocessing on the training rows only."""
    check_values(data)
    train_idx, val_idx, test_idx = split_indices(
        data, config.val_fraction, config.test_fraction, config.seed
    )
    scaled = data.task == "regression" and config.standardize_target
    y_train = data.y[train_idx] if scaled else None

    def rows(idx: np.ndarray) -> Tensor:
        return data.X.index_select(0, torch.from_numpy(idx))  # a copy of those rows

    # each part is a copy of its rows, imputed and standardized in place: no further copies
    X_train = rows(train_idx)
    pre = Preprocessor.fit(X_train, standardize=config.standardize, y_train=y_train)

    def part(idx: np.ndarray, X: Tensor | None = None) -> Split | None:
        if not len(idx):
            return None
        y = pre.scale_target(data.y[idx]) if scaled else data.y[idx]
        return Split(pre.transform(rows(idx) if X is None else X, in_place=True), y)

    train = part(train_idx, X_train)
    assert train is not None  # the config leaves rows for training
    return PreparedData(
        train=train,
        val=part(val_idx),
        test=part(test_idx),
        task=data.task,
        name=data.name,
        feature_names=data.feature_names,
        class_names=data.class_names,
        encoding=data.encoding,
        preprocessor=pre,
        notes=data.notes,
        truth=data.truth,
    )


def load_prepared(config: Config) -> PreparedData:
    """Load the dataset a config names and prepare it: the data half of a CLI run."""
    data = load_dataset(
        config.dataset,
        n=config.n,
        noise=config.noise,
        seed=config.seed,
        target=config.target,
        drop=config.drop,
        impute=config.impute,
        task=config.task,
        sep=config.sep,
        data_dir=config.data_dir,
    )
    return prepare(data, config)
