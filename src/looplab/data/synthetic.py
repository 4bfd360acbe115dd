"""Seeded synthetic datasets of the course: each has an ``n`` (rows) and a ``noise`` knob.

moons, circles and blobs are scikit-learn's ``make_moons``, ``make_circles`` and ``make_blobs``,
drawn here with the same ``numpy.random.RandomState`` calls in the same order, so they are the
same numbers (``tests/data/test_datasets.py`` compares them) without importing scikit-learn,
which costs more than a short run.
"""

from __future__ import annotations

import math

import numpy as np
import torch

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
    n_out = n // 2
    upper = np.linspace(0, np.pi, n_out)  # angles of the upper moon, then the lower one
    lower = np.linspace(0, np.pi, n - n_out)
    X = np.stack(
        [
            np.append(np.cos(upper), 1 - np.cos(lower)),
            np.append(np.sin(upper), 1 - np.sin(lower) - 0.5),
        ],
        axis=1,
    )  # (n, 2)
    return _binary("moons", *_shuffled_with_noise(X, n_out, noise, seed))


def circles(n: int, noise: float, seed: int) -> TaskData:
    """A small circle inside a large one (scikit-learn's ``make_circles``, factor 0.5)."""
    n_out = n // 2
    outer = np.linspace(0, 2 * np.pi, n_out, endpoint=False)  # no point twice at angle 0
    inner = np.linspace(0, 2 * np.pi, n - n_out, endpoint=False)
    X = np.stack(
        [
            np.append(np.cos(outer), np.cos(inner) * 0.5),
            np.append(np.sin(outer), np.sin(inner) * 0.5),
        ],
        axis=1,
    )  # (n, 2)
    return _binary("circles", *_shuffled_with_noise(X, n_out, noise, seed))


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
    """Four Gaussian clusters in 2-D; ``noise`` is their standard deviation (scikit-learn's
    ``make_blobs`` with 4 centers drawn in the box [-10, 10]^2)."""
    k = 4
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-10.0, 10.0, size=(k, 2))
    sizes = [n // k + (1 if c < n % k else 0) for c in range(k)]  # the first n % k get one more
    X = np.concatenate(
        [rng.normal(loc=centers[c], scale=noise, size=(sizes[c], 2)) for c in range(k)]
    )  # (n, 2)
    y = np.repeat(np.arange(k), sizes)
    order = np.arange(n)
    rng.shuffle(order)
    X, y = X[order], y[order]
    return TaskData(
        "blobs",
        torch.from_numpy(X),
        torch.from_numpy(y),
        "multiclass",
        ["x1", "x2"],
        [f"blob {c}" for c in range(4)],
    )


def _shuffled_with_noise(
    X: np.ndarray, n_first: int, noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows shuffled (labels 0 for the first ``n_first``, then 1), then Gaussian noise of
    standard deviation ``noise`` added: the draws scikit-learn makes, in its order."""
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(2), [n_first, len(X) - n_first])
    order = np.arange(len(X))
    rng.shuffle(order)
    X, y = X[order], y[order]
    return X + rng.normal(scale=noise, size=X.shape), y


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
