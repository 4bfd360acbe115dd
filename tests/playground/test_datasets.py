"""The playground's datasets: looplab's drawn exactly as looplab draws them (numpy only, so the
exported script can copy them), TensorFlow Playground's by their rules, and the plumbing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn import datasets as skd

from looplab.data.registry import load_dataset
from looplab.playground import datasets as ds
from looplab.playground.catalogue import DATASETS, load
from looplab.playground.settings import parse_settings
from looplab.playground.uploads import UploadStore


@pytest.mark.parametrize(
    ("ours", "name", "noise"),
    [
        (ds.moons, "moons", 0.2),
        (ds.circles, "circles", 0.1),
        (ds.xor_jitter, "xor", 0.05),
        (ds.spiral3, "spiral", 0.2),
    ],
)
@pytest.mark.parametrize("seed", [0, 7])
def test_looplab_datasets_are_drawn_exactly_as_looplab_draws_them(
    ours: Callable[[int, float, int], ds.Points], name: str, noise: float, seed: int
) -> None:
    data = load_dataset(name, n=301, noise=noise, seed=seed)
    x, y = ours(301, noise, seed)
    assert np.array_equal(x.astype(np.float32), data.X.numpy())
    assert np.array_equal(y, data.y.numpy().astype(np.int64))


@pytest.mark.parametrize("classes", [2, 3, 4, 5])
def test_blobs_are_scikit_learns_make_blobs(classes: int) -> None:
    x, y = ds.blobs(203, 0.3, 5, classes)
    X, Y = skd.make_blobs(n_samples=203, centers=classes, cluster_std=0.5 + 2 * 0.3, random_state=5)
    assert np.array_equal(x, X)
    assert np.array_equal(y, Y)


def test_blobs_at_noise_a_quarter_is_looplabs_blobs() -> None:
    data = load_dataset("blobs", n=200, seed=3)  # 4 clusters of std 1.0
    x, y = ds.blobs(200, 0.25, 3, 4)
    assert np.array_equal(x.astype(np.float32), data.X.numpy())
    assert np.array_equal(y, data.y.numpy())


def test_circle_labels_by_radius_without_noise() -> None:
    x, y = ds.circle(400, 0.0, 1)
    r = np.hypot(x[:, 0], x[:, 1])
    assert np.array_equal(y, (r < 2.5).astype(np.int64))
    assert ((r < 2.5) | ((r >= 3.5) & (r <= 5))).all()  # the gap between the classes
    assert y.sum() == 200


def test_xor_labels_by_quadrant_and_keeps_off_the_axes() -> None:
    x, y = ds.xor(500, 0.0, 2)
    assert np.array_equal(y, (x[:, 0] * x[:, 1] >= 0).astype(np.int64))
    assert np.abs(x).min() >= 0.3 and np.abs(x).max() <= 5.3


def test_noise_moves_labels_across_the_boundary() -> None:
    x, y = ds.xor(2000, 0.5, 2)
    clean = (x[:, 0] * x[:, 1] >= 0).astype(np.int64)
    flipped = float((y != clean).mean())
    assert 0.05 < flipped < 0.5


def test_gauss_clouds_sit_at_plus_and_minus_two() -> None:
    x, y = ds.gauss(2000, 0.0, 3)
    assert np.allclose(x[y == 1].mean(axis=0), [2, 2], atol=0.1)
    assert np.allclose(x[y == 0].mean(axis=0), [-2, -2], atol=0.1)
    assert np.allclose(x[y == 1].var(axis=0), 0.5, rtol=0.15)  # variance 0.5 at noise 0


def test_spiral_arms_reach_radius_five() -> None:
    x, y = ds.spiral(400, 0.0, 0)
    r = np.hypot(x[:, 0], x[:, 1])
    assert r.max() == pytest.approx(5 * 199 / 200)
    assert np.array_equal(np.bincount(y), [200, 200])


def test_regression_targets() -> None:
    x, y = ds.plane(300, 0.0, 4)
    assert np.allclose(y, (x[:, 0] + x[:, 1]) / 10)
    x, y = ds.multigauss(3000, 0.0, 4)
    assert -1 <= y.min() < -0.9 and 0.9 < y.max() <= 1
    at_bump = np.hypot(x[:, 0] - 4, x[:, 1] - 2.5) < 0.2  # a +1 bump
    assert (y[at_bump] > 0.85).all()


def test_fit_to_plane_centres_and_scales_to_five() -> None:
    x = np.array([[10.0, 1.0], [12.0, 2.0], [11.0, 5.0]])
    out = ds.fit_to_plane(x)
    assert np.abs(out).max() == pytest.approx(5)
    assert np.allclose(out.max(axis=0) + out.min(axis=0), 0)
    assert np.allclose(out[1] - out[0], (x[1] - x[0]) * 5 / 2)  # one scale for both axes


def test_input_features_are_the_named_functions_of_the_point() -> None:
    x = np.array([[0.5, -2.0], [3.0, 1.0]])
    names = ["x2", "x1^2", "x1*x2", "sin(x1)", "cos(x2)"]
    got = ds.input_features(x, names)
    want = np.stack([x[:, 1], x[:, 0] ** 2, x[:, 0] * x[:, 1], np.sin(x[:, 0]), np.cos(x[:, 1])], 1)
    assert np.allclose(got, want)


def test_split_is_a_seeded_partition_at_the_ratio() -> None:
    train, test = ds.train_test_split(500, 30, 9)
    assert len(train) == 150 and len(test) == 350
    assert sorted([*train, *test]) == list(range(500))
    again = ds.train_test_split(500, 30, 9)
    assert np.array_equal(train, again[0])
    assert not np.array_equal(train, ds.train_test_split(500, 30, 10)[0])


@pytest.mark.parametrize("name", [k for k in DATASETS if k != "upload"])
def test_every_dataset_loads_onto_the_plane(name: str) -> None:
    problem = DATASETS[name].problem
    settings = parse_settings({"dataset": name, "problem": problem, "noise": 0.1, "n": 300})
    data = load(settings, UploadStore())
    reach = np.abs(data.points).max(axis=1)
    if DATASETS[name].scaled:
        assert reach.max() == pytest.approx(5)
    else:  # Gaussian tails may leave the plane, as in TensorFlow Playground
        assert (reach <= 6).mean() > 0.99
    assert data.X_train.dtype.is_floating_point and len(data.X_train) + len(data.X_test) <= 300
    if problem == "regression":
        assert data.task == "regression" and data.outputs == 1
    else:
        assert data.task in ("binary", "multiclass")
        assert set(np.unique(data.y)) == set(range(len(data.class_names)))
