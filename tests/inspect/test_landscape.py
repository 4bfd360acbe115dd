"""Loss landscapes checked against closed forms: lstsq, hand-written gradient descent, and the
exact quadratic that a linear model's MSE is along any plane."""

from __future__ import annotations

from typing import NamedTuple

import pytest
import torch
from sklearn.linear_model import LinearRegression
from torch import Tensor

from looplab.config import Config
from looplab.data.split import Split
from looplab.inspect.landscape import (
    LossAt,
    filter_normalized_direction,
    linear_landscape,
    linear_loss_grid,
    linear_optimum,
    loss_slice,
    network_landscape,
    pca_directions,
    project_path,
)
from looplab.models.losses import TaskLoss
from looplab.models.mlp import ModelSpec, build_model
from looplab.pipeline import train
from looplab.run.result import TrainResult
from looplab.watch.path import PathRecorder, TrainingPath, flat_parameters


class Trained(NamedTuple):
    result: TrainResult
    path: TrainingPath
    X: Tensor  # (rows, 2) training inputs
    y: Tensor  # (rows,) training labels


@pytest.fixture(scope="module")
def trained() -> Trained:
    """A small MLP trained on moons, with the path its run recorded."""
    config = Config(epochs=6, n=200, hidden=[8, 8]).validate()
    recorder = PathRecorder()
    result = train(config, callbacks=[recorder], write=False)
    assert isinstance(result.data.train, Split)
    return Trained(result, recorder.path, result.data.train.X, result.data.train.y)


def test_slice_at_the_origin_is_the_trained_models_loss(trained: Trained) -> None:
    result, _, X, y = trained
    threads = torch.get_num_threads()
    s = loss_slice(result.model, X, y, "binary", resolution=5, span=0.5)
    assert torch.get_num_threads() == threads  # the grid ran on one thread, then restored
    with torch.no_grad():
        expected = float(TaskLoss("binary")(result.model(X), y))
    assert s.loss[2, 2].item() == pytest.approx(expected, rel=1e-6)
    assert s.center_loss == pytest.approx(expected, rel=1e-6)
    assert s.loss.min() <= expected + 1e-6 and s.loss.max() > expected * 1.05  # not flat


def test_directions_rows_have_the_weights_row_norms(trained: Trained) -> None:
    model = trained[0].model
    d = filter_normalized_direction(model, torch.Generator().manual_seed(3))
    with_bias = filter_normalized_direction(model, torch.Generator().manual_seed(3), True)
    offset = 0
    for name, p in model.named_parameters():
        part = d[offset : offset + p.numel()].reshape(p.shape)
        biased = with_bias[offset : offset + p.numel()].reshape(p.shape)
        offset += p.numel()
        if p.ndim == 2:
            torch.testing.assert_close(part.norm(dim=1), p.detach().norm(dim=1))
            assert not torch.allclose(part, p.detach())  # a random direction, not the weights
        else:  # biases: left out by default, the parameter itself when included
            assert torch.count_nonzero(part) == 0, name
            torch.testing.assert_close(biased, p.detach())
    assert offset == d.numel()


def test_a_linear_models_mse_slice_is_the_exact_convex_quadratic() -> None:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 3, generator=g)
    y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.3 * torch.randn(64, generator=g)
    model = build_model(ModelSpec(3, 1), seed=1)
    s = loss_slice(model, X, y, "regression", resolution=9, span=2.0, seed=5)
    # the oracle: residual r and the directions' effect on the output, then the quadratic
    fc1 = model.linear(1)
    W, b = fc1.weight.detach()[0], fc1.bias.detach()
    r = X @ W + b - y
    u, v = X @ s.d1[:3], X @ s.d2[:3]  # the bias has no direction
    A, B = torch.meshgrid(s.alphas, s.betas, indexing="xy")
    exact = ((r + A[..., None] * u + B[..., None] * v) ** 2).mean(-1)
    torch.testing.assert_close(s.loss, exact, rtol=1e-4, atol=1e-5)
    # convex: second differences along both axes and the discrete Hessian determinant
    L = s.loss.double()
    daa = L[:, 2:] - 2 * L[:, 1:-1] + L[:, :-2]
    dbb = L[2:, :] - 2 * L[1:-1, :] + L[:-2, :]
    dab = (L[2:, 2:] - L[2:, :-2] - L[:-2, 2:] + L[:-2, :-2]) / 4
    assert daa.min() > 0 and dbb.min() > 0
    assert (daa[1:-1, :] * dbb[:, 1:-1] - dab**2).min() > 0


def test_linear_optimum_and_grid_match_least_squares() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(50, generator=g)
    y = 2.5 * x - 0.7 + 0.1 * torch.randn(50, generator=g)
    w, b = linear_optimum(x, y)
    sk = LinearRegression().fit(x.numpy()[:, None], y.numpy())
    assert w == pytest.approx(float(sk.coef_[0]), rel=1e-5)
    assert b == pytest.approx(float(sk.intercept_), abs=1e-5)
    ws, bs = torch.linspace(w - 1, w + 1, 21), torch.linspace(b - 1, b + 1, 21)
    grid = linear_loss_grid(x, y, ws, bs)
    assert torch.argmin(grid).item() == 10 * 21 + 10  # the centre of the grid is the optimum
    assert grid[10, 10].item() == pytest.approx(float(((w * x + b - y) ** 2).mean()), rel=1e-6)


def test_descent_paths_start_together_and_full_batch_is_plain_gradient_descent() -> None:
    config = Config(dataset="linear", n=50, lr=0.1, epochs=3, val_fraction=0.2).validate()
    land = linear_landscape(config, batch_sizes=("full", 4, 1), start=(-1.0, 2.0), resolution=11)
    full, mini, sgd = land.paths.values()
    assert [len(full), len(mini), len(sgd)] == [3 + 1, 3 * 10 + 1, 3 * 40 + 1]  # 40 training rows
    for path in (full, mini, sgd):
        assert path[0].tolist() == [-1.0, 2.0]
    # the oracle: full-batch gradient descent on the MSE, by hand
    from looplab.data.prepared import load_prepared

    train_split = load_prepared(config).train
    assert isinstance(train_split, Split)
    x, y = train_split.X[:, 0].double(), train_split.y.double()
    w, b = -1.0, 2.0
    for step in range(1, 4):
        residual = w * x + b - y
        w, b = w - 0.1 * float(2 * (residual * x).mean()), b - 0.1 * float(2 * residual.mean())
        assert full[step].tolist() == pytest.approx([w, b], rel=1e-5)
    assert land.loss.min() >= land.optimum_loss - 1e-9  # nothing on the grid beats lstsq
    residual = w * x + b - y
    assert land.final_loss["full batch (40)"] == pytest.approx(float((residual**2).mean()))


def test_projection_and_pca_recover_a_path_drawn_in_a_known_plane() -> None:
    g = torch.Generator().manual_seed(2)
    center = torch.randn(40, generator=g)
    d1, d2 = torch.randn(40, generator=g), torch.randn(40, generator=g)
    coords = torch.tensor([[3.0, 1.0], [2.0, 0.5], [1.0, 0.4], [0.0, 0.0]])
    points = center + coords[:, :1] * d1 + coords[:, 1:] * d2
    torch.testing.assert_close(project_path(points, center, d1, d2), coords, atol=1e-4, rtol=0)
    p1, p2, explained = pca_directions(points, center)
    assert float(explained.sum()) == pytest.approx(1.0, abs=1e-5)  # the path lies in a plane
    rebuilt = center + project_path(points, center, p1, p2) @ torch.stack([p1, p2])
    torch.testing.assert_close(rebuilt, points, atol=1e-4, rtol=0)


def test_the_line_runs_from_the_initial_to_the_trained_loss(trained: Trained) -> None:
    result, path, X, y = trained
    land = network_landscape(result.model, X, y, "binary", path, resolution=5)
    loss_at = LossAt(result.model, X, y, "binary")
    assert land.alphas is not None and land.line is not None and land.plane is not None
    i0, i1 = land.alphas.tolist().index(0.0), land.alphas.tolist().index(1.0)
    assert land.line[i0].item() == pytest.approx(loss_at(path.points[0]), rel=1e-6)
    assert land.line[i1].item() == pytest.approx(land.slice.center_loss, rel=1e-6)
    assert land.line[i0] > land.line[i1]  # training lowered the loss
    assert land.slice.path is not None and land.slice.path.shape == (len(path.points), 2)
    assert torch.equal(path.points[-1], flat_parameters(result.model))
