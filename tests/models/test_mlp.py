"""MLP from a spec: layer names, shapes, the task's loss on logits, and shape errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from looplab.errors import ShapeError
from looplab.models import MLP, ModelSpec, TaskLoss, build_model, predict_labels, predict_output


def test_layers_have_readable_names_and_shapes() -> None:
    model = MLP(ModelSpec(5, 3, (10, 6), "tanh", dropout=0.2))
    names = [n for n, _ in model.named_children()]
    assert names == ["fc1", "act1", "drop1", "fc2", "act2", "drop2", "fc3"]
    assert isinstance(model.act1, nn.Tanh)
    assert model.linear(1) is model.fc1 and model.linear(3) is model.fc3
    assert model.linear(1).weight.shape == (10, 5)  # (out, in): one row per neuron
    assert model(torch.zeros(4, 5)).shape == (4, 3)  # (batch, outputs)


def test_linear_model_is_a_single_layer() -> None:
    model = MLP(ModelSpec(2, 1))
    assert [n for n, _ in model.named_children()] == ["fc1"]


@pytest.mark.parametrize(
    "activation", ["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "identity"]
)
def test_every_activation_builds(activation: str) -> None:
    model = MLP(ModelSpec(3, 2, (4,), activation))
    assert model(torch.randn(7, 3)).shape == (7, 2)


def test_wrong_input_width_names_the_layer_and_shapes() -> None:
    model = MLP(ModelSpec(5, 3, (10,)))
    with pytest.raises(
        ShapeError, match=r"fc1 expects inputs of shape \(batch, 5\) but got \(batch, 4\)"
    ):
        model(torch.zeros(8, 4))


def test_seeded_build_is_reproducible_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_model(ModelSpec(4, 2, (8,)), seed=7)
    after = torch.rand(1)
    b = build_model(ModelSpec(4, 2, (8,)), seed=7)
    assert torch.equal(before, after)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_losses_take_logits() -> None:
    torch.manual_seed(0)
    logits = torch.randn(6, 1)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    p = torch.sigmoid(logits[:, 0])
    by_hand = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    assert TaskLoss("binary")(logits, y).item() == pytest.approx(by_hand.item(), rel=1e-6)
    logits3 = torch.randn(6, 3)
    labels = torch.tensor([0, 2, 1, 1, 0, 2])
    log_softmax = logits3 - logits3.exp().sum(1, keepdim=True).log()
    assert TaskLoss("multiclass")(logits3, labels).item() == pytest.approx(
        -log_softmax[torch.arange(6), labels].mean().item(), rel=1e-6
    )
    assert TaskLoss("regression")(logits, y).item() == pytest.approx(
        ((logits[:, 0] - y) ** 2).mean().item()
    )


def test_cross_entropy_on_logits_is_stable_where_two_steps_underflow() -> None:
    logits = torch.tensor([[1000.0, 0.0]])
    label = torch.tensor([1])
    assert torch.isinf(-torch.log(torch.softmax(logits, 1))[0, 1])  # softmax first: log(0)
    assert TaskLoss("multiclass")(logits, label).item() == pytest.approx(1000.0)


def test_prediction_applies_sigmoid_or_softmax() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    probs = predict_output(logits, "multiclass")
    assert probs.sum().item() == pytest.approx(1.0)
    assert predict_labels(logits, "multiclass").tolist() == [0]
    assert predict_output(torch.tensor([[0.0]]), "binary").tolist() == [0.5]
    assert predict_labels(torch.tensor([[-0.1], [0.1]]), "binary").tolist() == [0, 1]
