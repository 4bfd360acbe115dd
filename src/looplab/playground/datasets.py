r"""The playground's 2-D datasets, written with numpy alone so that "Export as PyTorch" can copy
each function into the script it writes (``inspect.getsource``): the script regenerates the
very same points from the same seed.

Two families, all on the plane $[-6, 6]^2$ the page draws:

- TensorFlow Playground's (re-written from their description): ``circle``, ``xor``, ``gauss``,
  ``spiral`` (two classes) and ``plane``, ``multigauss`` (regression, targets in [-1, 1]);
  ``noise`` in [0, 0.5] as there;
- looplab's built-in 2-D datasets (``looplab.data.synthetic``): ``moons``, ``circles``,
  ``xor_jitter`` (looplab's ``xor``), ``spiral3`` (its three arms) and ``blobs`` (3 to 5
  classes here). The scikit-learn ones are re-written with numpy's ``RandomState`` exactly as
  scikit-learn draws them (``tests/playground/test_datasets.py`` checks them against
  looplab's loaders), then centred and scaled into [-5, 5] by :func:`fit_to_plane`.

Every generator returns ``(x, y)``: points (n, 2) float64, and labels (n,) (0/1 for two
classes, 0..k-1 for more, floats for regression).
"""

from __future__ import annotations

import math

import numpy as np

Points = tuple[np.ndarray, np.ndarray]  # x (n, 2) float64, y (n,)


# ---- TensorFlow Playground's datasets ------------------------------------------------------


def circle(n: int, noise: float, seed: int) -> Points:
    """Class 1 inside radius 2.5, class 0 in the ring 3.5..5; a label comes from the point
    moved by noise, so noisy points cross the gap."""
    rng = np.random.default_rng(seed)
    inner, outer = n // 2, n - n // 2
    r = np.concatenate([rng.uniform(0, 2.5, inner), rng.uniform(3.5, 5, outer)])
    angle = rng.uniform(0, 2 * math.pi, n)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)  # (n, 2)
    moved = x + rng.uniform(-5, 5, (n, 2)) * noise
    y = (np.hypot(moved[:, 0], moved[:, 1]) < 2.5).astype(np.int64)
    return x, y


def xor(n: int, noise: float, seed: int) -> Points:
    """Uniform in [-5, 5]^2 pushed 0.3 away from the axes; class 1 where x1 * x2 >= 0 (of the
    point moved by noise)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-5, 5, (n, 2))
    x = x + np.where(x > 0, 0.3, -0.3)
    moved = x + rng.uniform(-5, 5, (n, 2)) * noise
    y = (moved[:, 0] * moved[:, 1] >= 0).astype(np.int64)
    return x, y


def gauss(n: int, noise: float, seed: int) -> Points:
    """Two Gaussian clouds at (2, 2) (class 1) and (-2, -2) (class 0); the variance grows
    from 0.5 to 4 with the noise."""
    rng = np.random.default_rng(seed)
    variance = 0.5 + 7.0 * noise
    half = n // 2
    centres = np.concatenate([np.full(half, 2.0), np.full(n - half, -2.0)])
    x = centres[:, None] + math.sqrt(variance) * rng.standard_normal((n, 2))
    y = np.concatenate([np.ones(half, np.int64), np.zeros(n - half, np.int64)])
    return x, y


def spiral(n: int, noise: float, seed: int) -> Points:
    """Two spiral arms turning 1.75 times from the centre out to radius 5, half a turn apart."""
    rng = np.random.default_rng(seed)
    arms = []
    for label, offset in ((1, 0.0), (0, math.pi)):
        m = n // 2 if label == 1 else n - n // 2
        i = np.arange(m)
        r = i / m * 5
        t = 1.75 * i / m * 2 * math.pi + offset
        points = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        arms.append((points + rng.uniform(-1, 1, (m, 2)) * noise, np.full(m, label, np.int64)))
    return np.concatenate([a[0] for a in arms]), np.concatenate([a[1] for a in arms])


def plane(n: int, noise: float, seed: int) -> Points:
    """Regression: y = (x1 + x2) / 10 of the point moved by noise, for x uniform in [-6, 6]^2."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-6, 6, (n, 2))
    moved = x + rng.uniform(-6, 6, (n, 2)) * noise
    return x, (moved[:, 0] + moved[:, 1]) / 10


def multigauss(n: int, noise: float, seed: int) -> Points:
    """Regression: six bumps of height +-1 (radius 2) on a 3 x 2 grid; y is the bump that is
    largest in absolute value at the point moved by noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-6, 6, (n, 2))
    moved = x + rng.uniform(-6, 6, (n, 2)) * noise
    bumps = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]
    y = np.zeros(n)
    for cx, cy, sign in bumps:
        height = np.clip(1 - np.hypot(moved[:, 0] - cx, moved[:, 1] - cy) / 2, 0, 1)
        y = np.where(height > np.abs(y), sign * height, y)
    return x, y


# ---- looplab's datasets, drawn as scikit-learn and looplab draw them -----------------------


def sklearn_shuffle(x: np.ndarray, y: np.ndarray, state: np.random.RandomState) -> Points:
    """Rows in the order ``sklearn.utils.shuffle`` gives with this ``RandomState``."""
    order = np.arange(len(x))
    state.shuffle(order)
    return x[order], y[order]


def moons(n: int, noise: float, seed: int) -> Points:
    """Two interleaving half circles: ``sklearn.datasets.make_moons(n, noise=noise,
    random_state=seed)``, as looplab's ``moons``."""
    state = np.random.RandomState(seed)
    outer, inner = n // 2, n - n // 2
    t_out, t_in = np.linspace(0, np.pi, outer), np.linspace(0, np.pi, inner)
    x = np.vstack([
        np.append(np.cos(t_out), 1 - np.cos(t_in)),
        np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5),
    ]).T  # fmt: skip
    y = np.hstack([np.zeros(outer, np.int64), np.ones(inner, np.int64)])
    x, y = sklearn_shuffle(x, y, state)
    return x + state.normal(scale=noise, size=x.shape), y


def circles(n: int, noise: float, seed: int) -> Points:
    """A circle of radius 0.5 inside one of radius 1: ``make_circles(n, noise=noise,
    factor=0.5, random_state=seed)``, as looplab's ``circles``."""
    state = np.random.RandomState(seed)
    outer, inner = n // 2, n - n // 2
    t_out = np.linspace(0, 2 * np.pi, outer, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, inner, endpoint=False)
    x = np.vstack([
        np.append(np.cos(t_out), np.cos(t_in) * 0.5),
        np.append(np.sin(t_out), np.sin(t_in) * 0.5),
    ]).T  # fmt: skip
    y = np.hstack([np.zeros(outer, np.int64), np.ones(inner, np.int64)])
    x, y = sklearn_shuffle(x, y, state)
    return x + state.normal(scale=noise, size=x.shape), y


def xor_jitter(n: int, noise: float, seed: int) -> Points:
    """looplab's ``xor``: uniform in [-1, 1]^2, class 1 where x1 * x2 > 0, then every point
    jittered by N(0, noise^2), so points near the axes cross over."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    return x + noise * rng.standard_normal(x.shape), y


def spiral3(n: int, noise: float, seed: int) -> Points:
    """looplab's ``spiral``: three arms of ``n // 3`` points (the CS231n toy)."""
    rng = np.random.default_rng(seed)
    k, per_class = 3, max(n // 3, 1)
    x = np.zeros((per_class * k, 2))
    y = np.zeros(per_class * k, dtype=np.int64)
    for c in range(k):
        r = np.linspace(0.0, 1.0, per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, per_class) + noise * rng.standard_normal(per_class)
        rows = slice(per_class * c, per_class * (c + 1))
        x[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = c
    return x, y


def blobs(n: int, noise: float, seed: int, classes: int = 4) -> Points:
    """``classes`` Gaussian clusters with centres uniform in [-10, 10]^2 and standard deviation
    0.5 + 2 * noise: ``make_blobs(n, centers=classes, cluster_std=..., random_state=seed)``
    (looplab's ``blobs`` is 4 clusters of std 1, noise 0.25 here)."""
    state = np.random.RandomState(seed)
    centres = state.uniform(-10.0, 10.0, size=(classes, 2))
    sizes = [n // classes + (1 if i < n % classes else 0) for i in range(classes)]
    x = np.empty((n, 2))
    y = np.empty(n, dtype=np.int64)
    start = 0
    for i, size in enumerate(sizes):
        x[start : start + size] = state.normal(
            loc=centres[i], scale=0.5 + 2 * noise, size=(size, 2)
        )
        y[start : start + size] = i
        start += size
    return sklearn_shuffle(x, y, state)


def fit_to_plane(x: np.ndarray) -> np.ndarray:
    """Centre the points' bounding box on 0 and scale both axes alike so that the farthest
    coordinate is 5: any data then fills the playground's [-6, 6]^2 plane."""
    centre = (x.max(axis=0) + x.min(axis=0)) / 2
    reach = float(np.abs(x - centre).max())
    scaled: np.ndarray = (x - centre) * (5 / reach if reach > 0 else 1.0)
    return scaled


def input_features(x: np.ndarray, names: list[str]) -> np.ndarray:
    """The network's inputs: (n, 2) points -> (n, len(names)) columns, each a function of
    the point (TensorFlow Playground's x1, x2, x1^2, x2^2, x1*x2, sin and cos)."""
    x1, x2 = x[:, 0], x[:, 1]
    columns = {
        "x1": x1, "x2": x2, "x1^2": x1 * x1, "x2^2": x2 * x2, "x1*x2": x1 * x2,
        "sin(x1)": np.sin(x1), "sin(x2)": np.sin(x2), "cos(x1)": np.cos(x1), "cos(x2)": np.cos(x2),
    }  # fmt: skip
    return np.stack([columns[name] for name in names], axis=1)


def train_test_split(n: int, train_percent: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and test sets: one seeded permutation, cut at the ratio."""
    order = np.random.default_rng([seed, 1]).permutation(n)
    n_train = max(1, min(n - 1, round(n * train_percent / 100)))
    return order[:n_train], order[n_train:]
