"""The loss that follows the task, and predictions from logits.

The model outputs logits, and the losses take logits: ``BCEWithLogitsLoss`` and
``CrossEntropyLoss`` fuse the sigmoid / softmax with the log, which is numerically stable
(log-sum-exp) where ``log(softmax(z))`` computed in two steps underflows. So softmax or sigmoid
is never applied before the loss; prediction applies it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class TaskLoss(nn.Module):
    r"""MSE for regression, BCE-with-logits for binary, cross-entropy for multiclass (batch mean).

    With ``label_smoothing`` $\varepsilon$ (classification), the target of $K$ classes is
    $1 - \varepsilon + \varepsilon/K$ for the true class and $\varepsilon/K$ for each other:
    the model is not pushed towards infinite logits. Multiclass uses
    ``cross_entropy(label_smoothing=eps)``; binary smooths its 0/1 target the same way with
    $K = 2$, $y \mapsto y(1 - \varepsilon) + \varepsilon/2$. A multiclass ``y`` may also be
    class probabilities (batch, classes), as mixup makes.
    """

    def __init__(self, task: str, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.task = task
        self.label_smoothing = label_smoothing
        functions: dict[str, Callable[..., Tensor]] = {
            "regression": F.mse_loss,
            "binary": F.binary_cross_entropy_with_logits,
            "multiclass": F.cross_entropy,
        }  # what nn.MSELoss, nn.BCEWithLogitsLoss and nn.CrossEntropyLoss call
        self.fn = functions[task]
        if task == "multiclass" and label_smoothing > 0:
            self.fn = functools.partial(F.cross_entropy, label_smoothing=label_smoothing)

    def forward(self, logits: Tensor, y: Tensor) -> Tensor:
        """logits (batch, outputs), y (batch,) -> scalar mean loss."""
        if self.task != "multiclass":
            logits = logits.squeeze(-1)  # (batch, 1) -> (batch,)
        if self.task == "binary" and self.label_smoothing > 0:
            y = y * (1 - self.label_smoothing) + self.label_smoothing / 2
        return self.fn(logits, y)

    # Called straight, without nn.Module's hook machinery: a loss has no parameters to hook,
    # and the machinery costs a few microseconds a call, a visible share of a small model's step.
    __call__ = forward


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
