"""Weight init: each scheme's measured variance against its formula, torch.nn.init as a second
oracle, and why constant (zero) init fails: the hidden units never become different."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from looplab.config import INITS, Config
from looplab.models.init import init_linear, init_model, weight_std
from looplab.pipeline import train

FAN_IN, FAN_OUT = 1000, 400  # 400,000 weights: the variance estimate's relative error ~0.2%
RANDOM = [s for s in INITS if s not in ("zeros", "constant")]


def _layer(scheme: str, scale: float = 0.5, seed: int = 0) -> nn.Linear:
    layer = nn.Linear(FAN_IN, FAN_OUT)
    init_linear(layer, scheme, scale, torch.Generator().manual_seed(seed))
    return layer


EXPECTED_VAR = {  # written out from each paper's formula, independently of weight_std
    "normal": 0.5**2,
    "uniform": 0.5**2 / 3,
    "xavier_uniform": 2 / (FAN_IN + FAN_OUT),
    "xavier_normal": 2 / (FAN_IN + FAN_OUT),
    "kaiming_uniform": 2 / FAN_IN,
    "kaiming_normal": 2 / FAN_IN,
    "default": 1 / (3 * FAN_IN),
}


@pytest.mark.parametrize("scheme", RANDOM)
def test_measured_variance_matches_formula(scheme: str) -> None:
    """Tolerance 2% relative: the estimate's standard error is <= sqrt(2/400000) = 0.22%."""
    w = _layer(scheme).weight.detach().double()
    assert w.var().item() == pytest.approx(EXPECTED_VAR[scheme], rel=0.02)
    assert weight_std(scheme, FAN_IN, FAN_OUT, 0.5) ** 2 == pytest.approx(EXPECTED_VAR[scheme])
    assert abs(w.mean().item()) < 5 * math.sqrt(EXPECTED_VAR[scheme] / w.numel())
    if "uniform" in scheme or scheme == "default":  # U(-a, a): reaches but never passes a
        bound = math.sqrt(3 * EXPECTED_VAR[scheme])
        assert w.abs().max().item() <= bound * (1 + 1e-6)
        assert w.abs().max().item() > 0.999 * bound
    else:  # normal: 4.55% of draws lie beyond 2 sigma
        beyond = (w.abs() > 2 * math.sqrt(EXPECTED_VAR[scheme])).double().mean().item()
        assert beyond == pytest.approx(0.0455, abs=0.002)


ORACLES = {
    "normal": lambda w, g: nn.init.normal_(w, 0.0, 0.5, generator=g),
    "uniform": lambda w, g: nn.init.uniform_(w, -0.5, 0.5, generator=g),
    "xavier_uniform": lambda w, g: nn.init.xavier_uniform_(w, generator=g),
    "xavier_normal": lambda w, g: nn.init.xavier_normal_(w, generator=g),
    "kaiming_uniform": lambda w, g: nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=g),
    "kaiming_normal": lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g),
    "default": lambda w, g: nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=g),
}


@pytest.mark.parametrize("scheme", RANDOM)
def test_same_draws_as_torch_nn_init(scheme: str) -> None:
    mine = _layer(scheme, seed=3).weight.detach()
    theirs = torch.empty(FAN_OUT, FAN_IN)
    ORACLES[scheme](theirs, torch.Generator().manual_seed(3))
    torch.testing.assert_close(mine, theirs, rtol=1e-6, atol=1e-9)


def test_constant_schemes_and_biases() -> None:
    assert (_layer("zeros").weight == 0).all()
    assert (_layer("constant", scale=0.3).weight == 0.3).all()
    for scheme in ("zeros", "constant", "kaiming_normal"):
        assert (_layer(scheme).bias == 0).all()
    bias = _layer("default").bias.detach()
    assert bias.abs().max().item() <= 1 / math.sqrt(FAN_IN) and bias.std().item() > 0


def test_init_model_is_seeded_and_default_keeps_the_built_weights() -> None:
    def net() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

    built = net()
    before = [p.detach().clone() for p in built.parameters()]
    init_model(built, "default", seed=5)
    assert all(torch.equal(a, b) for a, b in zip(before, built.parameters(), strict=True))
    # the first parameter is the first layer's weight
    a, b, c = (next(init_model(net(), "xavier_normal", seed=s).parameters()) for s in (1, 1, 2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def _hidden_weights(init: str, activation: str) -> torch.Tensor:
    config = Config(
        dataset="moons",
        n=200,
        hidden=[8],
        activation=activation,
        init=init,
        init_scale=0.3,
        epochs=15,
        optimizer="sgd",
        lr=0.5,
        val_fraction=0.0,
    )
    result = train(config, write=False)
    assert result.history.last["train_loss"] < result.history.rows[0]["train_loss"]  # it trained
    return result.model.linear(1).weight.detach()  # (hidden, in): one row per hidden unit


@pytest.mark.parametrize(("init", "activation"), [("zeros", "sigmoid"), ("constant", "relu")])
def test_symmetric_init_keeps_hidden_units_identical(init: str, activation: str) -> None:
    """Zero weights with sigmoid (sigma(0) = 1/2 passes a gradient) or constant weights with
    ReLU: every hidden unit computes the same thing, gets the same gradient and stays a copy.
    (Zeros with ReLU is worse: relu'(0) = 0, so the hidden weights get no gradient at all.)"""
    w = _hidden_weights(init, activation)
    assert w.abs().max() > 1e-3  # the weights did move away from the start...
    torch.testing.assert_close(w, w[:1].expand_as(w), rtol=0, atol=1e-6)  # ...all together


def test_random_init_breaks_the_symmetry() -> None:
    w = _hidden_weights("default", "sigmoid")
    spread = (w - w[:1]).abs().amax(dim=1)[1:]  # how far each unit is from unit 0
    assert (spread > 1e-2).all()


def test_zeros_with_relu_gets_no_gradient() -> None:
    config = Config(
        dataset="moons",
        n=200,
        hidden=[8],
        init="zeros",
        epochs=3,
        optimizer="sgd",
        val_fraction=0.0,
    )
    model = train(config, write=False).model
    assert (model.linear(1).weight == 0).all() and (model.linear(2).weight == 0).all()
