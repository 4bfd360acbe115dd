"""The LeNet-sized CNN: layer names and shapes, its forward pass against torch.nn.functional,
the summary table, and a run on images from config to prediction."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from looplab.cli import run
from looplab.config import Config
from looplab.errors import ShapeError
from looplab.inspect.summary import summarize
from looplab.models.cnn import CNN, build_network, cnn_spec
from looplab.models.mlp import MLP, ModelSpec
from looplab.pipeline import train
from looplab.run.predict import predict_rows


def test_layers_are_named_like_the_mlps_and_keep_lenets_sizes() -> None:
    model = build_network(cnn_spec((1, 28, 28), 10), seed=0)
    assert isinstance(model, CNN)
    names = [name for name, _ in model.named_children()]
    assert names == ["conv1", "act1", "pool1", "conv2", "act2", "pool2", "flatten",
                     "fc1", "act3", "fc2", "act4", "fc3"]  # fmt: skip
    # conv: out * (in * 5 * 5) + out biases; linear: out * in + out
    expected = (6 * 25 + 6) + (16 * 6 * 25 + 16) + (120 * 784 + 120) + (84 * 120 + 84) + 850
    assert sum(p.numel() for p in model.parameters()) == expected == 107_786


def test_forward_is_the_composition_of_torch_functions() -> None:
    model = build_network(cnn_spec((1, 28, 28), 10), seed=3)
    x = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    conv1, conv2 = model.get_submodule("conv1"), model.get_submodule("conv2")
    assert isinstance(conv1, torch.nn.Conv2d) and isinstance(conv2, torch.nn.Conv2d)
    h = F.max_pool2d(F.relu(F.conv2d(x, conv1.weight, conv1.bias, padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, conv2.weight, conv2.bias, padding=2)), 2)
    h = h.reshape(5, -1)  # (5, 16 * 7 * 7)
    for i in (1, 2):
        h = F.relu(F.linear(h, model.linear(i).weight, model.linear(i).bias))
    expected = F.linear(h, model.linear(3).weight, model.linear(3).bias)
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-6)


def test_seeded_builds_are_identical_and_small_images_fit() -> None:
    first = build_network(cnn_spec((1, 8, 8), 10, dropout=0.3), seed=1)
    second = build_network(cnn_spec((1, 8, 8), 10, dropout=0.3), seed=1)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    assert first(torch.zeros(2, 1, 8, 8)).shape == (2, 10)  # 8 -> 4 -> 2: 16 * 2 * 2 inputs
    assert first.linear(1).in_features == 64
    assert "drop3" in dict(first.named_children())


def test_wrong_inputs_say_what_shape_is_expected() -> None:
    model = build_network(cnn_spec((1, 28, 28), 10))
    with pytest.raises(ShapeError, match=r"conv1 expects images of shape \(batch, 1, 28, 28\)"):
        model(torch.zeros(2, 784))
    with pytest.raises(ShapeError, match="needs image inputs"):
        CNN(ModelSpec(784, 10, kind="cnn"))


def test_an_mlp_flattens_images_as_its_spec_says() -> None:
    spec = ModelSpec(784, 10, (32,), input_shape=(1, 28, 28))
    model = build_network(spec, seed=0)
    assert isinstance(model, MLP)
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(model(x), model(x.reshape(3, 784)), rtol=0, atol=0)


def test_summary_shows_each_layers_shapes() -> None:
    s = summarize(build_network(cnn_spec((1, 28, 28), 10)), (1, 28, 28), batch_size=4)
    rows = {r.name: r for r in s.rows}
    assert list(rows) == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert rows["conv1"].input_shape == (4, 1, 28, 28)
    assert rows["conv1"].weight_shape == (6, 1, 5, 5)
    assert rows["conv1"].output_shape == (4, 6, 28, 28)
    assert rows["conv1"].activation == "relu, maxpool(2)"
    assert rows["conv2"].output_shape == (4, 16, 14, 14)
    assert rows["fc1"].input_shape == (4, 784) and rows["fc1"].params == 94_200
    assert s.total_params == 107_786


def test_summary_command_for_a_cnn(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["summary", "--model", "cnn", "--in", "1x28x28", "--out", "10"]) == 0
    out = capsys.readouterr().out
    conv1 = next(line for line in out.splitlines() if "conv1" in line)
    assert "(6, 1, 5, 5)" in conv1 and "156" in conv1
    assert "107,786" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "cnn", "--in", "784"], "--model cnn needs an image shape --in CxHxW"),
        (["--in", "1x28"], "--in must be a positive whole number of features (e.g. 5) or"),
        (["--model", "rnn", "--in", "4"], "unknown --model 'rnn'; choose one of: mlp, cnn"),
    ],
)
def test_summary_refuses_bad_shapes(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["summary", *args, "--out", "10"]) == 2
    assert message in capsys.readouterr().err


def test_cnn_needs_image_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["train", "--model", "cnn", "--dataset", "iris", "--out", str(tmp_path)]) == 2
    assert "--model cnn needs image data, and 'iris' is rows of features" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("model", ["cnn", "mlp"])
def test_an_image_run_predicts_from_grey_levels_as_it_was_trained(
    model: str, tmp_path: Path
) -> None:
    config = Config(dataset="mnist-5k", model=model, hidden=[32], epochs=1, batch_size=32,
                    val_fraction=0.6, out=str(tmp_path), name="digits")  # fmt: skip
    result = train(config)
    assert result.spec.input_shape == (1, 28, 28) and result.spec.kind == model
    assert result.final["validation"]["accuracy"] > 0.6  # one epoch learns most digits
    # three validation images back in the files' grey levels, as a user would give them
    val = result.data.val
    pre = result.data.preprocessor
    assert pre is not None and val is not None
    X = val.X[:3]  # type: ignore[union-attr]
    grey = ((X * pre.std + pre.mean) * 255).round()  # (3, 1, 28, 28) levels 0..255
    rows = tmp_path / "digits.csv"
    with open(rows, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(result.data.feature_names)
        writer.writerows(grey.reshape(3, 784).int().tolist())
    _, _, predictions = predict_rows(tmp_path / "digits", rows)
    with torch.no_grad():
        expected = torch.softmax(result.model(X), dim=1)
    got = torch.tensor([row[1:] for row in predictions.values], dtype=torch.float32)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
