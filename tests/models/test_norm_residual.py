"""Batch / layer norm after each hidden linear layer, residual skip blocks, and what they do to
the gradient of a deep sigmoid MLP (read from the monitors)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.errors import ShapeError
from looplab.models import MLP, ModelSpec, build_model
from looplab.plots.monitors import gradient_ratio
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.diagnoses import VANISHING, Diagnoses
from looplab.watch.monitors import LayerMonitor


@pytest.mark.parametrize(("norm", "kind"), [("batch", nn.BatchNorm1d), ("layer", nn.LayerNorm)])
def test_norm_sits_between_each_hidden_linear_layer_and_its_activation(
    norm: str, kind: type[nn.Module]
) -> None:
    model = MLP(ModelSpec(3, 2, (8, 5), "relu", dropout=0.1, norm=norm))
    names = [n for n, _ in model.named_children()]
    assert names == ["fc1", "norm1", "act1", "drop1", "fc2", "norm2", "act2", "drop2", "fc3"]
    assert isinstance(model.norm1, kind) and isinstance(model.norm2, kind)
    assert sum(p.numel() for p in model.norm1.parameters()) == 2 * 8  # scale and shift per unit
    model.eval()
    x = torch.randn(6, 3)
    layer = dict(model.named_children())
    h = layer["act1"](layer["norm1"](layer["fc1"](x)))
    expected = layer["fc3"](layer["act2"](layer["norm2"](layer["fc2"](h))))
    torch.testing.assert_close(model(x), expected)


def test_batch_norm_normalizes_each_unit_over_the_batch_in_training_mode() -> None:
    model = MLP(ModelSpec(3, 1, (16,), "identity", norm="batch"))
    x = torch.randn(64, 3) * 5 + 2
    h = model.get_submodule("norm1")(model.linear(1)(x))  # (batch, 16)
    torch.testing.assert_close(h.mean(0), torch.zeros(16), atol=1e-5, rtol=0)
    torch.testing.assert_close(h.var(0, unbiased=False), torch.ones(16), atol=1e-3, rtol=0)


def test_residual_adds_the_input_back_around_equal_width_layers_only() -> None:
    model = MLP(ModelSpec(2, 1, (16, 16, 8), "tanh", residual=True))
    assert model.skips == {1}  # 2->16 and 16->8 change width: no skip there
    x = torch.randn(5, 2)
    h1 = torch.tanh(model.linear(1)(x))
    h2 = h1 + torch.tanh(model.linear(2)(h1))  # the skip block
    h3 = torch.tanh(model.linear(3)(h2))
    torch.testing.assert_close(model(x), model.linear(4)(h3))
    plain = MLP(ModelSpec(2, 1, (16, 16, 8), "tanh"))
    plain.load_state_dict(model.state_dict())  # same names, same weights
    assert not torch.allclose(plain(x), model(x))


def test_residual_with_norm_and_dropout_keeps_names_and_the_shape_error() -> None:
    spec = ModelSpec(4, 3, (8, 8), "relu", dropout=0.2, norm="layer", residual=True)
    model = build_model(spec, seed=1)
    assert list(model.state_dict()) == [
        "fc1.weight",
        "fc1.bias",
        "norm1.weight",
        "norm1.bias",
        "fc2.weight",
        "fc2.bias",
        "norm2.weight",
        "norm2.bias",
        "fc3.weight",
        "fc3.bias",
    ]
    same = build_model(spec, seed=1)
    model.eval(), same.eval()
    x = torch.randn(3, 4)
    torch.testing.assert_close(model(x), same(x))
    with pytest.raises(ShapeError, match=r"fc1 expects inputs of shape \(batch, 4\)"):
        model(torch.randn(3, 5))


def _first_over_last_gradient(norm: str, residual: bool) -> tuple[list[float], list[str]]:
    config = Config(
        n=200,
        hidden=[16] * 20,
        activation="sigmoid",
        epochs=2,
        norm=norm,
        residual=residual,
        monitor=True,
        device="cpu",
    ).validate()
    data = load_prepared(config)
    model = build_model(model_spec(config, data), seed=0)
    monitor = LayerMonitor()
    history = fit(model, data, config, [monitor, Diagnoses(monitor)])
    return gradient_ratio(history), history.messages


def test_deep_sigmoid_gradient_vanishes_without_norm_and_skips_but_not_with_them() -> None:
    plain, plain_messages = _first_over_last_gradient("none", residual=False)
    fixed, fixed_messages = _first_over_last_gradient("batch", residual=True)
    # 20 sigmoid layers: each multiplies the gradient by at most 0.25 * ||W||
    assert all(r < 1e-10 for r in plain), plain
    assert all(r > 1e-2 for r in fixed), fixed
    said = f"{VANISHING}: at epoch 1 the gradient norm of fc1"
    assert any(m.startswith(said) for m in plain_messages)
    assert not any(m.startswith(VANISHING) for m in fixed_messages)


def test_cli_run_with_norm_and_residual_names_them_in_the_report(tmp_path: Path) -> None:
    from looplab.cli import run

    out = tmp_path
    args = [
        "train",
        "--n",
        "200",
        "--epochs",
        "2",
        "--hidden",
        "8,8",
        "--norm",
        "batch",
        "--residual",
        "--out",
        str(out),
    ]
    assert run(args) == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    report = (run_dir / "report.html").read_text()
    assert "MLP 2-8-8-1 (relu, batch norm, residual)" in report
    assert "<td>norm1</td>" in report  # the layer table lists the normalization layers
