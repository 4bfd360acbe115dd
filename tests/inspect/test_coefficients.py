"""A linear model's coefficients in the data's own units: an exact rewrite of the model, and on
``linear`` (y = 3x + 1 + noise) the least-squares line of the raw data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from looplab.cli import run
from looplab.config import Config
from looplab.data import load_dataset, split_indices
from looplab.data.preprocess import Preprocessor
from looplab.inspect.coefficients import linear_coefficients, output_names
from looplab.models.mlp import ModelSpec, build_model
from looplab.pipeline import train


@pytest.mark.parametrize("outputs", [1, 3])
def test_raw_coefficients_give_the_models_predictions_on_raw_inputs(outputs: int) -> None:
    g = torch.Generator().manual_seed(0)
    X_train = torch.randn(50, 4, generator=g) * torch.tensor([1.0, 10.0, 0.1, 3.0]) + 7
    y_train = torch.randn(50, generator=g) * 500 + 4000 if outputs == 1 else None
    pre = Preprocessor.fit(X_train, y_train=y_train)
    model = build_model(ModelSpec(4, outputs), seed=1)
    coef = linear_coefficients(model, pre, ["a", "b", "c", "d"], [f"o{k}" for k in range(outputs)])
    assert coef is not None
    X = torch.randn(20, 4, generator=g) * 5  # (rows, features), raw units
    with torch.no_grad():
        out = pre.unscale_target(model(pre.transform(X))).double()  # (rows, outputs)
    rewritten = X.double() @ coef.raw_weight.T + coef.raw_bias  # (rows, outputs)
    assert torch.allclose(rewritten, out, rtol=1e-5, atol=1e-6 * float(out.abs().max()))


def test_a_network_with_hidden_layers_has_no_coefficients() -> None:
    model = build_model(ModelSpec(2, 1, (4,)), seed=0)
    assert linear_coefficients(model, None, ["x1", "x2"], ["y"]) is None


def test_on_linear_data_the_raw_weight_is_3_and_the_bias_1_as_least_squares_says(
    tmp_path: object,
) -> None:
    config = Config(
        dataset="linear", model="linear", optimizer="sgd", lr=0.5, batch_size="full", epochs=200
    )
    result = train(config, write=False)
    data = result.data
    coef = linear_coefficients(
        result.model, data.preprocessor, data.feature_names, output_names(data.task, [], "y")
    )
    assert coef is not None
    raw = load_dataset("linear", seed=config.seed)
    train_idx, _, _ = split_indices(raw, config.val_fraction, 0.0, config.seed)
    x, y = raw.X[train_idx, 0].double().numpy(), raw.y[train_idx].double().numpy()
    (w, b), *_ = np.linalg.lstsq(np.c_[x, np.ones_like(x)], y, rcond=None)
    assert float(coef.raw_weight[0, 0]) == pytest.approx(w, abs=1e-2)
    assert float(coef.raw_bias[0]) == pytest.approx(b, abs=1e-2)
    assert (w, b) == pytest.approx((3, 1), abs=0.1)  # the line the data was drawn from
    assert float(coef.weight[0, 0]) != pytest.approx(3, abs=0.5)  # the learned one is not it


def test_train_prints_the_coefficients_and_the_report_shows_them(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "train",
        "--dataset",
        "linear",
        "--model",
        "linear",
        "--optimizer",
        "sgd",
        "--lr",
        "0.5",
        "--batch-size",
        "full",
        "--epochs",
        "200",
        "--out",
        str(tmp_path),
        "--name",
        "lin",
    ]
    assert run(args) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if "w x" in row)
    learned, raw = (float(v) for v in line.strip("│ ").split("│")[-2:])
    assert raw == pytest.approx(3, abs=0.1)
    assert abs(learned - raw) > 1  # standardized x and y: the learned w is not the slope
    report = (tmp_path / "lin" / "report.html").read_text()  # type: ignore[operator]
    assert "What the linear model learned" in report and f"{raw:.4g}" in report
