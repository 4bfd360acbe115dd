"""Built-in datasets: shapes, tasks, class names, and the seed / n / noise knobs."""

from __future__ import annotations

import pytest
import torch

from looplab.data import DATASETS, load_dataset
from looplab.data.registry import FROM_FILES


# (datasets read from files are tested on files the tests make, in test_mnist.py)
@pytest.mark.parametrize("name", [name for name in DATASETS if name not in FROM_FILES])
def test_every_dataset_has_consistent_shapes_and_task(name: str) -> None:
    data = load_dataset(name)
    assert data.task == DATASETS[name].task
    assert data.X.dtype == torch.float32
    assert data.X[0].numel() == data.n_features == len(data.feature_names)
    assert data.X.ndim == (4 if data.image_shape else 2)
    assert torch.isfinite(data.X).all()
    if data.task == "regression":
        assert data.class_names == []
        assert data.y.dtype == torch.float32
    else:
        labels = set(data.y.long().tolist())
        assert labels == set(range(len(data.class_names)))
        assert data.y.dtype == (torch.int64 if data.task == "multiclass" else torch.float32)


def test_real_datasets_match_scikit_learn_sizes() -> None:
    sizes = {
        n: (load_dataset(n).n_rows, load_dataset(n).n_features)
        for n in ("digits", "iris", "wine", "breast_cancer")
    }
    assert sizes == {
        "digits": (1797, 64),
        "iris": (150, 4),
        "wine": (178, 13),
        "breast_cancer": (569, 30),
    }
    assert len(load_dataset("digits").class_names) == 10


def test_synthetic_data_is_seeded() -> None:
    a, b, c = (load_dataset("moons", seed=s) for s in (0, 0, 1))
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)
    assert not torch.equal(a.X, c.X)


def test_n_and_noise_knobs() -> None:
    assert load_dataset("spiral", n=300).n_rows == 300
    assert load_dataset("moons", n=123).n_rows == 123
    # the linear toy is y = 3x + 1 + noise: the residual std is the noise
    for noise in (0.05, 0.5):
        d = load_dataset("linear", n=20_000, noise=noise)
        residual = d.y - (3 * d.X[:, 0] + 1)
        assert residual.std().item() == pytest.approx(noise, rel=0.03)


def test_sine_spans_two_periods_each_side() -> None:
    d = load_dataset("sine", n=2000, noise=0.0)
    assert d.X.min() < -6.0 and d.X.max() > 6.0
    assert torch.allclose(d.y, torch.sin(d.X[:, 0]))


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
@pytest.mark.parametrize("seed", [0, 5, 2**31])
def test_moons_circles_blobs_are_scikit_learns_numbers(n: int, seed: int) -> None:
    from sklearn import datasets as skd

    expected = {
        "moons": skd.make_moons(n_samples=n, noise=0.2, random_state=seed),
        "circles": skd.make_circles(n_samples=n, noise=0.1, factor=0.5, random_state=seed),
        "blobs": skd.make_blobs(n_samples=n, centers=4, cluster_std=1.5, random_state=seed),
    }
    noise = {"moons": 0.2, "circles": 0.1, "blobs": 1.5}
    for name, (X, y) in expected.items():
        data = load_dataset(name, n=n, noise=noise[name], seed=seed)
        assert torch.equal(data.X, torch.from_numpy(X).float()), name
        assert torch.equal(data.y, torch.from_numpy(y).to(data.y.dtype)), name


# (mnist is downloaded: its row says what the four published files hold, 60,000 + 10,000)
@pytest.mark.parametrize("name", [name for name in DATASETS if name not in FROM_FILES])
def test_the_table_of_datasets_says_what_loading_gives(name: str) -> None:
    data, info = load_dataset(name), DATASETS[name]
    assert (info.rows, info.features, info.classes) == (
        data.n_rows,
        data.n_features,
        len(data.class_names),
    )
