"""The LR range test: the user's model is untouched, and the suggestion lands where the good
range is known (plain gradient descent on standardized linear regression diverges above 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.errors import ConfigError
from looplab.experiments.lr_find import lr_range_test, steepest_descent
from looplab.inspect.landscape import linear_optimum
from looplab.models.mlp import ModelSpec, build_model
from looplab.run.build import model_spec
from looplab.run.fit import fit


def test_the_users_model_is_untouched() -> None:
    config = Config(n=200, hidden=[8], dropout=0.1).validate()
    data = load_prepared(config)
    model = build_model(model_spec(config, data), seed=0)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = lr_range_test(model, data, config, steps=40)
    assert result.steps > 10 and result.lrs[0] == pytest.approx(1e-6)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not model.training  # its mode too


def test_suggestion_on_linear_regression_is_inside_the_stable_range() -> None:
    # MSE on standardized x: the Hessian is 2 [[E x^2, E x], [E x, 1]] = about 2 I, so full-batch
    # gradient descent converges for lr < 2 / 2 = 1 and diverges above it.
    config = Config(
        dataset="linear", model="linear", optimizer="sgd", batch_size="full", n=200
    ).validate()
    data = load_prepared(config)
    assert isinstance(data.train, Split)
    X, y = data.train.X, data.train.y
    A = torch.cat([X, torch.ones_like(X)], dim=1).double()  # (n, 2): the design matrix [x, 1]
    hessian = 2 * A.T @ A / len(A)  # of the mean squared error in (w, b)
    stable = 2 / float(torch.linalg.eigvalsh(hessian).max())
    assert 0.9 < stable < 1.1
    model = build_model(ModelSpec(1, 1), seed=0)
    result = lr_range_test(model, data, config, steps=150)
    assert result.stopped_early and stable < result.lrs[-1] < 10  # exploded past the bound
    assert 0.01 < result.suggestion < stable / 2
    # and the suggestion trains: 100 full-batch epochs reach the least-squares loss
    fit(model, data, config.replace(lr=result.suggestion, epochs=100))
    w, b = linear_optimum(X[:, 0], y)
    with torch.no_grad():
        final = float(((model(X)[:, 0] - y) ** 2).mean())
        best = float(((w * X[:, 0] + b - y) ** 2).mean())
    assert final == pytest.approx(best, rel=1e-3)


def test_steepest_descent_finds_the_middle_of_a_known_drop() -> None:
    lrs = list(np.logspace(-6, 1, 141))
    drop = [1 - math.tanh(2 * (math.log10(lr) + 2)) for lr in lrs]  # steepest at lr = 1e-2
    index = steepest_descent(lrs, drop)
    assert math.log10(lrs[index]) == pytest.approx(-2, abs=0.06)
    noisy = [d + (0.05 if i % 2 else -0.05) for i, d in enumerate(drop)]  # batch-to-batch noise
    assert math.log10(lrs[steepest_descent(lrs, noisy)]) == pytest.approx(-2, abs=0.3)
    assert steepest_descent(lrs, [float(i) for i in range(len(lrs))]) == -1  # never fell


def test_bad_ranges_are_config_errors() -> None:
    config = Config(n=100).validate()
    data = load_prepared(config)
    model = build_model(model_spec(config, data), seed=0)
    with pytest.raises(ConfigError, match="0 < start lr < end lr"):
        lr_range_test(model, data, config, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ConfigError, match="at least 10 steps"):
        lr_range_test(model, data, config, steps=3)
