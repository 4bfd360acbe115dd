"""The loss that follows the task, and predictions from logits.

The model outputs logits, and the losses take logits: ``BCEWithLogitsLoss`` and
``CrossEntropyLoss`` fuse the sigmoid / softmax with the log, which is numerically stable
(log-sum-exp) where ``log(softmax(z))`` computed in two steps underflows. So softmax or sigmoid
is never applied before the loss; prediction applies it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TaskLoss(nn.Module):
    """MSE for regression, BCE-with-logits for binary, cross-entropy for multiclass (batch mean)."""

    def __init__(self, task: str) -> None:
        super().__init__()
        self.task = task
        self.fn: nn.Module = {
            "regression": nn.MSELoss,
            "binary": nn.BCEWithLogitsLoss,
            "multiclass": nn.CrossEntropyLoss,
        }[task]()

    def forward(self, logits: Tensor, y: Tensor) -> Tensor:
        """logits (batch, outputs), y (batch,) -> scalar mean loss."""
        if self.task != "multiclass":
            logits = logits.squeeze(-1)  # (batch, 1) -> (batch,)
        return self.fn(logits, y)  # type: ignore[no-any-return]


def predict_output(logits: Tensor, task: str) -> Tensor:
    """What a user wants from logits: values (regression), P(class 1) (binary) or class
    probabilities (multiclass, rows sum to 1)."""
    if task == "regression":
        return logits.squeeze(-1)
    if task == "binary":
        return torch.sigmoid(logits.squeeze(-1))
    return torch.softmax(logits, dim=-1)


def predict_labels(logits: Tensor, task: str) -> Tensor:
    """Class indices (batch,) from logits: the sign of the logit, or the arg-max."""
    if task == "binary":
        return (logits.squeeze(-1) > 0).long()
    return logits.argmax(dim=-1)
