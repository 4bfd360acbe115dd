"""The playground's network: the L1/L2 penalty against autograd, seeded dropout against
nn.Dropout, the layer outputs the heatmaps show, and reproducible builds."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from looplab.models.losses import TaskLoss
from looplab.models.mlp import MLP
from looplab.playground.network import (
    PenalizedLoss,
    SeededDropout,
    block_outputs,
    build_network,
    penalty,
)
from looplab.playground.settings import parse_settings


def small_net() -> MLP:
    torch.manual_seed(0)
    return build_network(parse_settings({"hidden": [5, 3], "norm": "layer"}), 2)


def test_l1_penalty_value_and_gradient_are_rate_times_abs_and_sign() -> None:
    model = small_net()
    rate = 0.03
    value = penalty(model, "L1", rate)
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    assert value.item() == pytest.approx(rate * sum(w.abs().sum().item() for w in weights))
    value.backward()
    for w in weights:  # d/dw rate * |w| = rate * sign(w)
        assert w.grad is not None
        assert torch.allclose(w.grad, rate * torch.sign(w.detach()))
    for m in model.modules():  # biases and norm layers are not penalized
        if isinstance(m, nn.Linear):
            assert m.bias.grad is None
        if isinstance(m, nn.LayerNorm):
            assert m.weight.grad is None


def test_l2_penalty_gradient_is_rate_times_w_as_weight_decay() -> None:
    model = small_net()
    rate = 0.5
    value = penalty(model, "L2", rate)
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    assert value.item() == pytest.approx(rate / 2 * sum((w * w).sum().item() for w in weights))
    value.backward()
    for w in weights:
        assert w.grad is not None
        assert torch.allclose(w.grad, rate * w.detach())


def test_l1_gradient_agrees_with_finite_differences() -> None:
    model = small_net()
    w = model.linear(1).weight
    with torch.no_grad():
        w[0, 0] = 0.37  # away from 0, where |w| has no derivative
    value = penalty(model, "L1", 0.2)
    value.backward()
    assert w.grad is not None
    eps = 1e-3
    with torch.no_grad():
        w[0, 0] += eps
        up = penalty(model, "L1", 0.2).item()
        w[0, 0] -= 2 * eps
        down = penalty(model, "L1", 0.2).item()
    assert float(w.grad[0, 0]) == pytest.approx((up - down) / (2 * eps), rel=1e-3)


def test_penalized_loss_is_the_task_loss_plus_the_penalty() -> None:
    model = small_net()
    x, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
    logits = model(x)
    plain = TaskLoss("multiclass")(logits, y)
    total = PenalizedLoss("multiclass", model, "L2", 0.1)(logits, y)
    assert total.item() == pytest.approx(plain.item() + penalty(model, "L2", 0.1).item())
    assert PenalizedLoss("multiclass", model, "L1", 0.0)(logits, y).item() == plain.item()


def test_seeded_dropout_equals_nn_dropout_in_values_and_gradients() -> None:
    x = torch.randn(16, 12, requires_grad=True)
    torch.manual_seed(4)
    ours_in = x.detach().clone().requires_grad_()
    theirs = nn.Dropout(0.4)(x)
    theirs.sum().backward()
    generator = torch.Generator().manual_seed(4)
    ours = SeededDropout(0.4, generator)(ours_in)
    ours.sum().backward()
    assert torch.equal(ours, theirs)
    assert x.grad is not None and ours_in.grad is not None
    assert torch.equal(ours_in.grad, x.grad)
    assert torch.equal(SeededDropout(0.4, generator).eval()(x), x)


def test_dropout_masks_continue_from_where_the_build_left_the_global_generator() -> None:
    settings = parse_settings({"hidden": [6], "dropout": 0.5, "seed": 3})
    model = build_network(settings, 1)
    torch.manual_seed(3)
    reference = build_network(parse_settings({"hidden": [6], "seed": 3}), 1)  # no dropout
    torch.manual_seed(3)
    nn.Linear(2, 6), nn.Linear(6, 1)  # the same draws as the build: the layers' weights
    expected = nn.Dropout(0.5)(torch.ones(4, 6))
    h = model.get_submodule("drop1")(torch.ones(4, 6))
    assert torch.equal(h, expected)
    assert torch.equal(model.linear(1).weight, reference.linear(1).weight)


def test_builds_are_reproducible_and_do_not_touch_the_global_generator() -> None:
    settings = parse_settings({"hidden": [4, 4], "init": "xavier_normal", "seed": 11})
    torch.manual_seed(99)
    before = torch.get_rng_state()
    a, b = build_network(settings, 3), build_network(settings, 3)
    assert torch.equal(torch.get_rng_state(), before)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_block_outputs_end_with_the_models_output() -> None:
    extras: list[dict[str, object]] = [{}, {"residual": True, "hidden": [4, 4, 4]}, {"hidden": []}]
    for extra in extras:
        model = build_network(parse_settings({"dropout": 0.2, **extra}), 3).eval()
        x = torch.randn(10, 2)
        outs = block_outputs(model, x)
        assert len(outs) == len(model.blocks)
        assert torch.equal(outs[-1], model(x))
