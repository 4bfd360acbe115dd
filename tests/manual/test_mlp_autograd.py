"""The hand-written forward and backward equal autograd's, on random networks (float64)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from looplab.manual.layers import ACTIVATIONS
from looplab.manual.losses import LOSSES, CrossEntropyWithLogits
from looplab.manual.mlp import ManualMLP
from looplab.models.losses import TaskLoss
from looplab.models.mlp import ModelSpec, build_model

TASKS = ("regression", "binary", "multiclass")


def targets(task: str, batch: int, outputs: int, g: torch.Generator) -> torch.Tensor:
    if task == "multiclass":
        return torch.randint(0, outputs, (batch,), generator=g)
    if task == "binary":
        return torch.randint(0, 2, (batch,), generator=g).double()
    return torch.randn(batch, generator=g, dtype=torch.float64)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest entry-wise difference over the largest magnitude (0 when both are all zero)."""
    scale = max(float(np.abs(a).max()), float(np.abs(b).max()))
    return float(np.abs(a - b).max()) / scale if scale > 0 else 0.0


@settings(max_examples=40, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 6), min_size=0, max_size=3),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    task=st.sampled_from(TASKS),
    in_features=st.integers(1, 5),
    classes=st.integers(2, 4),
    batch=st.integers(1, 9),
    scale=st.sampled_from([0.1, 1.0, 10.0]),
    seed=st.integers(0, 2**16),
)
def test_gradients_equal_autograd(
    hidden: list[int],
    activation: str,
    task: str,
    in_features: int,
    classes: int,
    batch: int,
    scale: float,
    seed: int,
) -> None:
    outputs = classes if task == "multiclass" else 1
    spec = ModelSpec(in_features, outputs, tuple(hidden), activation)
    model = build_model(spec, seed=seed).double()
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(batch, in_features, generator=g, dtype=torch.float64)
    y = targets(task, batch, outputs, g)

    logits = model(x)
    loss = TaskLoss(task)(logits, y)
    loss.backward()

    net = ManualMLP.from_module(model)  # numpy views of the same weights
    loss_fn = LOSSES[task]()
    manual_logits = net.forward(x.numpy())
    manual_loss = loss_fn.forward(manual_logits, y.numpy())
    net.backward(loss_fn.backward())

    assert relative_error(manual_logits, logits.detach().numpy()) < 1e-10
    assert abs(float(manual_loss) - loss.item()) <= 1e-10 * max(1.0, abs(loss.item()))
    names = [name for name, _ in model.named_parameters()]
    assert names == net.parameter_names()
    # Relative to the largest gradient of the network: a parameter whose gradient is itself
    # ~1e-9 of the others (a saturated tanh: 1 - tanh^2 cancels) carries only ~1e-7 relative
    # precision in float64 in any implementation, autograd's included.
    autograd = [p.grad.numpy() for p in model.parameters() if p.grad is not None]
    scale = max(float(np.abs(g).max()) for g in autograd)
    for name, p, grad, theirs in zip(names, model.parameters(), net.gradients(), autograd,
                                     strict=True):  # fmt: skip
        assert grad.shape == tuple(p.shape), name
        assert float(np.abs(grad - theirs).max()) <= 1e-10 * scale, name


@pytest.mark.parametrize("big", [1e3, 1e5])
def test_cross_entropy_is_finite_for_huge_logits(big: float) -> None:
    """log-sum-exp: exp(1000) overflows, the shifted form does not."""
    z = np.array([[big, 0.0, -big], [0.0, big, big]])
    y = np.array([1, 2])
    loss_fn = CrossEntropyWithLogits()
    value = loss_fn.forward(z, y)
    expected = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(y))
    assert np.isfinite(value) and abs(float(value) - float(expected)) < 1e-9 * big
    assert np.isfinite(loss_fn.backward()).all()


def test_bce_with_logits_is_finite_for_huge_logits() -> None:
    z = np.array([[800.0], [-800.0], [0.0]])
    y = np.array([0.0, 1.0, 1.0])
    loss_fn = LOSSES["binary"]()
    value = loss_fn.forward(z, y)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(z[:, 0]), torch.tensor(y)
    )
    assert abs(float(value) - float(expected)) < 1e-12 * 800
    assert np.isfinite(loss_fn.backward()).all()


def test_each_activation_matches_its_torch_twin_and_derivative() -> None:
    x = torch.linspace(-4, 4, 41, dtype=torch.float64).reshape(41, 1)
    twins: dict[str, Callable[[Tensor], Tensor]] = {
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "leaky_relu": torch.nn.functional.leaky_relu,
        "identity": lambda t: t,
    }
    for name, layer_type in ACTIVATIONS.items():
        xt = x.clone().requires_grad_(True)
        yt = twins[name](xt)
        yt.sum().backward()
        layer = layer_type()
        out = layer.forward(x.numpy().copy())
        np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-14, atol=1e-15)
        assert xt.grad is not None
        np.testing.assert_allclose(
            layer.backward(np.ones_like(out)), xt.grad.numpy(), rtol=1e-14, atol=1e-15
        )
