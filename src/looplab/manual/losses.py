r"""The three losses of the course on logits, by hand: forward and backward side by side.

Each loss is the mean over the batch, so each backward divides by the batch size $n$.
Sums are ``np.add.reduce`` (what ``.sum()`` calls, without its Python wrapper: these arrays are
small, so per-call overhead is most of the cost).
``backward()`` returns $\partial L / \partial z$ for the logits $z$ (batch, outputs) of the last
``forward``. The classification losses take logits and stay finite for any logit (log-sum-exp).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from looplab.manual.layers import Array

Targets = np.ndarray[Any, np.dtype[Any]]


class Loss(Protocol):
    """A scalar loss of logits (batch, outputs) and targets (batch,)."""

    def forward(self, z: Array, y: Targets) -> np.floating[Any]: ...

    def backward(self) -> Array: ...


class MSE:
    r"""$L = \frac1n \sum_i (z_i - y_i)^2$; $\partial L/\partial z_i = \frac2n (z_i - y_i)$."""

    def __init__(self) -> None:
        self.diff: Array | None = None

    def forward(self, z: Array, y: Targets) -> np.floating[Any]:
        self.diff = z[:, 0] - y  # (batch,)
        return np.add.reduce(self.diff * self.diff) / len(z)  # type: ignore[no-any-return]

    def backward(self) -> Array:
        assert self.diff is not None, "backward before forward"
        n = len(self.diff)
        return (self.diff * (2 / n))[:, None]  # (batch, 1)


class BCEWithLogits:
    r"""Binary cross-entropy of $p = \sigma(z)$, written so it never takes $\log 0$:
    $-[y \log p + (1-y)\log(1-p)] = \max(z, 0) - z y + \log(1 + e^{-|z|})$.
    $\partial L/\partial z_i = \frac1n(\sigma(z_i) - y_i)$."""

    def __init__(self) -> None:
        self.z: Array | None = None
        self.y: Targets | None = None

    def forward(self, z: Array, y: Targets) -> np.floating[Any]:
        self.z, self.y = z[:, 0], y  # (batch,)
        zz = self.z
        per_row = np.maximum(zz, 0) - zz * y + np.log1p(np.exp(-np.abs(zz)))  # (batch,)
        return np.add.reduce(per_row) / len(z)  # type: ignore[no-any-return]

    def backward(self) -> Array:
        assert self.z is not None and self.y is not None, "backward before forward"
        p = 0.5 * (1 + np.tanh(0.5 * self.z))  # sigmoid, overflow-free
        grad: Array = (p - self.y) / len(self.z)
        return grad[:, None]  # (batch, 1)


class CrossEntropyWithLogits:
    r"""Softmax cross-entropy with class indices $y$:
    $L_i = \log\sum_k e^{z_{ik}} - z_{i y_i}$, with log-sum-exp shifted by $m_i = \max_k z_{ik}$
    so no exponential overflows.
    $\partial L/\partial z = \frac1n(\mathrm{softmax}(z) - \mathrm{onehot}(y))$.
    """

    def __init__(self) -> None:
        self.shifted_exp: Array | None = None
        self.sums: Array | None = None
        self.y: Targets | None = None
        self.rows: Targets = np.arange(0)  # 0, 1, ..., batch - 1: made again only when it grows

    def forward(self, z: Array, y: Targets) -> np.floating[Any]:
        n = len(z)
        if len(self.rows) < n:
            self.rows = np.arange(n)
        rows = self.rows[:n]
        # each row's max z[i, argmax_i]: argmax along a short row is ~7x faster than max
        shifted = z - z[rows, z.argmax(axis=1)][:, None]  # (batch, classes), max 0
        self.shifted_exp = np.exp(shifted)  # in (0, 1]
        self.sums = np.add.reduce(self.shifted_exp, axis=1, keepdims=True)  # (batch, 1), >= 1
        self.y = y
        # sum of log-sum-exp minus the sum of the true classes' shifted logits, over n
        per_row = np.log(self.sums[:, 0]) - shifted[rows, y]  # (batch,)
        return np.add.reduce(per_row) / n  # type: ignore[no-any-return]

    def backward(self) -> Array:
        assert self.shifted_exp is not None and self.sums is not None and self.y is not None
        n = len(self.shifted_exp)
        grad = self.shifted_exp / (self.sums * n)  # softmax / n, (batch, classes)
        grad[self.rows[:n], self.y] -= 1 / n
        return grad


LOSSES: dict[str, type[MSE | BCEWithLogits | CrossEntropyWithLogits]] = {
    "regression": MSE,
    "binary": BCEWithLogits,
    "multiclass": CrossEntropyWithLogits,
}
