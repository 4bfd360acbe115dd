"""A labelled dataset in memory: features, targets, and what kind of task they pose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from looplab.config import Task


@dataclass(frozen=True)
class Truth:
    """The noise-free function a synthetic regression dataset was drawn from, so a figure can
    draw it beside what the model learned: ``fn`` maps x (rows,) to y (rows,)."""

    formula: str  # e.g. "y = 3x + 1"
    fn: Callable[[Tensor], Tensor]


@dataclass
class TaskData:
    """Features ``X`` (rows, features), or images (rows, channels, height, width), and targets
    ``y`` (rows,), with the task they pose.

    ``y`` is float32 for regression and binary tasks and int64 class indices for multiclass,
    which is what MSE, BCE-with-logits and cross-entropy expect.
    """

    name: str
    X: Tensor  # (rows, features) or (rows, C, H, W) float32; NaN marks a missing value
    y: Tensor  # (rows,)
    task: Task
    feature_names: list[str]
    class_names: list[str] = field(default_factory=list)  # empty for regression
    encoding: dict[str, Any] = field(default_factory=dict)  # how CSV columns became features
    notes: list[str] = field(default_factory=list)  # things the user should be told
    truth: Truth | None = None  # the noise-free y(x) of a one-feature synthetic regression

    def __post_init__(self) -> None:
        if self.X.ndim not in (2, 4) or self.y.ndim != 1 or len(self.X) != len(self.y):
            raise ValueError(
                f"X must be (rows, features) or (rows, C, H, W) and y (rows,): {self.X.shape}, "
                f"{self.y.shape}"
            )
        self.X = self.X.to(torch.float32)
        self.y = self.y.to(torch.int64 if self.task == "multiclass" else torch.float32)

    @property
    def n_rows(self) -> int:
        return len(self.X)

    @property
    def n_features(self) -> int:
        """Numbers per row: an image's pixels times its channels."""
        return int(self.X[0].numel()) if len(self.X) else int(self.X.shape[1])

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """(channels, height, width) of image data, else None."""
        return tuple(self.X.shape[1:]) if self.X.ndim == 4 else None

    @property
    def n_outputs(self) -> int:
        """Width of the model's output: one logit per class for multiclass, else one."""
        return len(self.class_names) if self.task == "multiclass" else 1
