"""Seeded synthetic datasets of the course: each has an ``n`` (rows) and a ``noise`` knob."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn import datasets as skd

from looplab.data.task_data import TaskData, Truth


def three_x_plus_one(x: torch.Tensor) -> torch.Tensor:
    """The line under the ``linear`` dataset."""
    return 3 * x + 1


def linear(n: int, noise: float, seed: int) -> TaskData:
    r"""The course's toy: $y = 3x + 1 + \varepsilon$ with $x \sim U(-1, 1)$ and
    $\varepsilon \sim N(0, \mathrm{noise}^2)$."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 2 - 1  # (n, 1)
    y = three_x_plus_one(x[:, 0]) + noise * torch.randn(n, generator=g)
    return TaskData(
        "linear", x, y, "regression", ["x"], truth=Truth("y = 3x + 1", three_x_plus_one)
    )


def sine(n: int, noise: float, seed: int) -> TaskData:
    r"""$y = \sin(x) + \varepsilon$ on $x \sim U(-2\pi, 2\pi)$: a curve no linear model can fit."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, generator=g) * 2 - 1) * 2 * math.pi
    y = torch.sin(x[:, 0]) + noise * torch.randn(n, generator=g)
    return TaskData("sine", x, y, "regression", ["x"], truth=Truth("y = sin(x)", torch.sin))


def moons(n: int, noise: float, seed: int) -> TaskData:
    """Two interleaving half circles (scikit-learn's ``make_moons``)."""
    X, y = skd.make_moons(n_samples=n, noise=noise, random_state=seed)
    return _binary("moons", X, y)


def circles(n: int, noise: float, seed: int) -> TaskData:
    """A small circle inside a large one (scikit-learn's ``make_circles``, factor 0.5)."""
    X, y = skd.make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)
    return _binary("circles", X, y)


def xor(n: int, noise: float, seed: int) -> TaskData:
    """Points in the square [-1, 1]^2, label 1 where x1 * x2 > 0, then jittered by ``noise``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    X = X + noise * rng.standard_normal(X.shape)
    return _binary("xor", X, y, class_names=["different sign", "same sign"])


def spiral(n: int, noise: float, seed: int) -> TaskData:
    """Three interleaved spiral arms (the classic CS231n toy), ``n // 3`` points per arm."""
    rng = np.random.default_rng(seed)
    k, per_class = 3, max(n // 3, 1)
    X = np.zeros((per_class * k, 2))
    y = np.zeros(per_class * k, dtype=np.int64)
    for c in range(k):
        r = np.linspace(0.0, 1.0, per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, per_class) + noise * rng.standard_normal(per_class)
        rows = slice(per_class * c, per_class * (c + 1))
        X[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = c
    return TaskData(
        "spiral",
        torch.from_numpy(X),
        torch.from_numpy(y),
        "multiclass",
        ["x1", "x2"],
        [f"arm {c}" for c in range(k)],
    )


def blobs(n: int, noise: float, seed: int) -> TaskData:
    """Four Gaussian clusters in 2-D; ``noise`` is their standard deviation."""
    X, y = skd.make_blobs(n_samples=n, centers=4, cluster_std=noise, random_state=seed)
    return TaskData(
        "blobs",
        torch.from_numpy(X),
        torch.from_numpy(y),
        "multiclass",
        ["x1", "x2"],
        [f"blob {c}" for c in range(4)],
    )


def _binary(
    name: str, X: np.ndarray, y: np.ndarray, class_names: list[str] | None = None
) -> TaskData:
    return TaskData(
        name,
        torch.from_numpy(X),
        torch.from_numpy(y),
        "binary",
        ["x1", "x2"],
        class_names or ["class 0", "class 1"],
    )
