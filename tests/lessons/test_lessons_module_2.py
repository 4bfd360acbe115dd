"""Module 2's lessons in fast mode: the numbers each one claims hold against oracles computed
here another way (scikit-learn, closed forms, finite differences, plain torch loops)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from torch import Tensor

from looplab.cli import run
from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.experiments.sine_width import run_sine_lesson, sine_data, sine_model
from looplab.lessons.catalogue import CATALOGUE, load
from looplab.lessons.lesson import DemoResult
from looplab.models.mlp import MLP, ModelSpec, build_model

Runs = dict[str, dict[str, DemoResult]]


def _split(config: Config) -> tuple[Split, Split]:
    data = load_prepared(config)
    assert isinstance(data.train, Split) and isinstance(data.val, Split)
    return data.train, data.val


def _logistic(train: Split, val: Split) -> tuple[LogisticRegression, float, float]:
    """scikit-learn's unpenalized logistic regression: the best linear classifier's fit."""
    model = LogisticRegression(C=np.inf, max_iter=5000)
    model.fit(train.X.numpy(), train.y.numpy())
    return (
        model,
        model.score(train.X.numpy(), train.y.numpy()),
        model.score(val.X.numpy(), val.y.numpy()),
    )


def test_module_2_is_written_in_full_with_a_dozen_exercises() -> None:
    lessons = [load(row.id) for row in CATALOGUE if row.module == 2]
    assert [lesson.id for lesson in lessons] == [f"2.{i}" for i in range(1, 8)]
    assert all(1 <= len(lesson.exercises) <= 3 for lesson in lessons)
    assert sum(len(lesson.exercises) for lesson in lessons) >= 12


# ---------------------------------------------------------------- 2.1


def test_2_1_a_line_stays_under_90_the_mlp_reaches_95_and_seed_0_is_stuck(runs: Runs) -> None:
    r = runs["2.1"]["moons_over_seeds"]
    train, val = _split(Config(dataset="moons", n=200))
    _, train_acc, val_acc = _logistic(train, val)
    assert r["linear, training accuracy"] == pytest.approx(train_acc, abs=1.5 / len(train))
    assert r["linear, validation accuracy"] == pytest.approx(val_acc, abs=1.5 / len(val))
    assert r["linear, validation accuracy"] < 0.9
    assert r["MLP 8, median validation accuracy"] >= 0.95
    # the course's seed 0: below the line on validation, above it on training, few folds
    assert r["MLP 8 seed 0, validation accuracy"] < r["linear, validation accuracy"]
    assert r["MLP 8 seed 0, training accuracy"] > r["linear, training accuracy"]
    assert r["MLP 8 seed 0, training accuracy"] < r["MLP 8, median training accuracy"]
    bending = r["MLP 8 seed 0, units bending inside the data"]
    assert bending < r["MLP 8, units bending inside the data, seeds that reach 95%"]
    assert r["MLP 32, lowest validation accuracy"] >= 0.925

    # seed 0 again, by a plain torch loop (fast mode: 300 full-batch epochs)
    model = build_model(ModelSpec(2, 1, (8,)), seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        loss = F.binary_cross_entropy_with_logits(model(train.X)[:, 0], train.y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = float(((model(val.X)[:, 0] > 0).float() == val.y).float().mean())
        active = (model.linear(1)(train.X) > 0).float().mean(0)  # (8,)
    assert accuracy == pytest.approx(r["MLP 8 seed 0, validation accuracy"], abs=1e-6)
    assert int(((active > 0.05) & (active < 0.95)).sum()) == bending
    assert loss.item() == pytest.approx(r["MLP 8 seed 0, training loss"], rel=1e-3)


def test_2_1_xor_and_the_activations(runs: Runs) -> None:
    x = runs["2.1"]["xor_needs_a_hidden_layer"]
    assert x["max |hand-set network - XOR| on the 4 corners"] == 0.0
    train, val = _split(Config(dataset="xor", n=400))
    *_, line = _logistic(train, val)
    assert x["linear, validation accuracy"] == pytest.approx(line, abs=0.1)
    assert x["linear, validation accuracy"] < 2 / 3 + 3 * math.sqrt(2 / 9 / len(val))
    assert x["one hidden layer, validation accuracy"] > 0.9

    a = runs["2.1"]["activations_and_derivatives"]
    for name in ("relu", "sigmoid", "tanh"):
        assert a[f"max |{name}' closed form - autograd|"] < 1e-12
    s6 = 1 / (1 + math.exp(-6))
    assert a["sigmoid'(6)"] == pytest.approx(s6 * (1 - s6), rel=1e-9)
    assert a["tanh'(6)"] == pytest.approx(1 / math.cosh(6) ** 2, rel=1e-9)


# ---------------------------------------------------------------- 2.2


def test_2_2_shapes_parameters_and_the_hand_backward(runs: Runs) -> None:
    r = runs["2.2"]["shapes_forward_and_backward"]
    layers = [torch.nn.Linear(5, 10), torch.nn.Linear(10, 6), torch.nn.Linear(6, 3)]
    assert r["parameters"] == sum(p.numel() for layer in layers for p in layer.parameters())
    assert r["max |batch forward - 4 single forwards|"] < 1e-6
    assert r["max |hand-written backward - autograd|"] < 1e-6


def test_2_2_the_layer_table_is_the_summary_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["summary", "--in", "5", "--hidden", "10,6", "--out", "3", "--batch-size", "4"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if re.match(r"│ fc\d", line)]
    assert len(rows) == 3
    note = load("2.2").notes[0]
    for line in rows:
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        assert "| " + " | ".join(cells) + " |" in note
    assert "| fc2.weight | (6, 10) | (6, 10) |" in note


def test_2_2_the_courses_softmax_is_wrong_and_these_are_right(runs: Runs) -> None:
    r = runs["2.2"]["cross_entropy_by_hand"]
    exps = [math.exp(2.0), math.exp(-1.0), math.exp(0.5)]
    for k, e in enumerate(exps):
        assert r[f"softmax p{k}"] == pytest.approx(e / sum(exps), rel=1e-12)
    assert [round(r[f"softmax p{k}"], 3) for k in range(3)] == [0.786, 0.039, 0.175]
    assert round(r["loss"], 3) == 0.241 and abs(r["loss"] - 0.34) > 0.09  # the course: 0.34
    assert abs(r["softmax p0"] - 0.71) > 0.07 and abs(r["softmax p2"] - 0.25) > 0.07
    assert r["|loss - F.cross_entropy|"] < 1e-12
    assert r["max |dL/dz - (softmax - onehot)|"] < 1e-12
    near = [math.exp(2.0), math.exp(-1.0), math.exp(1.0)]
    assert r["softmax p0 of [2, -1, 1]"] == pytest.approx(near[0] / sum(near), rel=1e-12)
    look_at = " ".join(load("2.2").look_at)
    assert "0.786 / 0.039 / 0.175 and 0.241" in look_at


def test_2_2_log_sum_exp_stays_finite_where_two_steps_break(runs: Runs) -> None:
    r = runs["2.2"]["log_sum_exp"]
    step = 0.05  # fast mode's grid of gaps
    assert r["last finite gap, exp then divide"] == pytest.approx(
        math.log(torch.finfo(torch.float32).max), abs=step
    )
    # 1 / (1 + e^gap) rounds to 0 below half the smallest float32 subnormal, 2^-150
    assert r["last finite gap, softmax then log"] == pytest.approx(150 * math.log(2), abs=step)
    assert r["F.cross_entropy at gap 200"] == pytest.approx(200.0, rel=1e-6)
    assert r["max |F.cross_entropy - log(1 + e^gap)|"] < 1e-4


# ---------------------------------------------------------------- 2.3


def _train_sine(width: int, epochs: int) -> MLP:
    """The course's network by a plain torch loop: full batch, MSE, SGD lr 1e-2."""
    data = sine_data()
    assert isinstance(data.train, Split)
    model = sine_model(width, 0)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        loss = F.mse_loss(model(data.train.X)[:, 0], data.train.y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def test_2_3_the_hand_network_fits_to_about_0_15_and_only_between_its_kinks(runs: Runs) -> None:
    r = runs["2.3"]["sine_from_scratch"]
    assert r["hand gradient vs autograd, step 1"] < 1e-5
    assert 0.13 < r["final loss"] < 0.17  # the course: "about 0.15"
    assert r["max |hand loss - autograd loss|"] < 1e-3
    model = _train_sine(10, 1000)
    fc1 = model.linear(1)
    kinks = (-fc1.bias / fc1.weight[:, 0]).detach()  # (10,)
    assert r["farthest kink from 0"] == pytest.approx(float(kinks.abs().max()), abs=1e-3)
    beyond = torch.linspace(float(kinks.abs().max()) + 0.01, 2 * math.pi, 50).unsqueeze(1)
    with torch.no_grad():
        right = model(beyond)[:, 0]
    assert float((right[2:] - 2 * right[1:-1] + right[:-2]).abs().max()) < 1e-4  # a line


def test_2_3_variations_and_the_stopping_threshold(runs: Runs) -> None:
    r = runs["2.3"]["sine_variations"]
    losses = run_sine_lesson(10, 0, epochs=300).column("train_loss")
    assert r["final loss, relu"] == pytest.approx(losses[-1], rel=1e-5)
    first_below = next(i for i, v in enumerate(losses, start=1) if v < 0.2)
    assert r["epochs until below the threshold"] == first_below
    noise = 0.1 * torch.randn(300, generator=torch.Generator().manual_seed(0))
    assert r["final loss, noisy targets"] == pytest.approx(
        r["noisy fit vs the true curve"] + float((noise**2).mean()), rel=0.15
    )


def _hessian_by_differences(width: int, seed: int) -> Tensor:
    """The loss's Hessian from central differences of autograd's gradient (float64)."""
    data = sine_data()
    assert isinstance(data.train, Split)
    x, y = data.train.X.double(), data.train.y.double()
    params = [p.detach().double() for p in sine_model(width, seed).parameters()]
    flat = torch.cat([p.reshape(-1) for p in params])

    def gradient(v: Tensor) -> Tensor:
        v = v.clone().requires_grad_()
        W1, b1, W2, b2 = (
            part.reshape(p.shape)
            for part, p in zip(v.split([p.numel() for p in params]), params, strict=True)
        )
        loss = ((torch.relu(x @ W1.T + b1) @ W2.T + b2)[:, 0] - y).pow(2).mean()
        (g,) = torch.autograd.grad(loss, v)
        return g

    eps = 1e-6
    columns = []
    for i in range(len(flat)):
        e = torch.zeros_like(flat)
        e[i] = eps
        columns.append((gradient(flat + e) - gradient(flat - e)) / (2 * eps))
    H = torch.stack(columns, 1)
    return (H + H.T) / 2


def test_2_3_width_50_diverges_because_it_is_sharper(runs: Runs) -> None:
    r = runs["2.3"]["width_50_diverges"]
    assert r["divergence step, width 50"] <= 10
    sentence = next(n.sentence for n in r.numbers if n.name == "divergence step, width 50")
    assert "initial weights are too large for this width" in sentence
    torch.manual_seed(0)
    torch.randn(50, 1)  # sine_model's W1, drawn first
    assert r["fc2 weight std / (1/sqrt(fan_in)), width 50"] == pytest.approx(
        float(torch.randn(1, 50).std()) * math.sqrt(50), rel=1e-5
    )
    x = torch.linspace(-2 * math.pi, 2 * math.pi, 300, dtype=torch.float64)
    for width in (10, 50):
        expected = width * float((x**2).mean()) / 2 + float((torch.sin(x) ** 2).mean())
        assert r[f"mean first loss, width {width}"] == pytest.approx(expected, rel=0.15)
        tops = [
            float(torch.linalg.eigvalsh(_hessian_by_differences(width, s)).max()) for s in (0, 1)
        ]
        assert r[f"median sharpness, width {width}"] == pytest.approx(
            float(np.median(tops)), rel=1e-4
        )
    assert r["median sharpness, width 50"] > 2 * (2 / 1e-2)  # far beyond 2 / lr
    assert r["sharpness, width 50, xavier_normal"] < 2 / 1e-2
    assert r["first loss, width 50, seed 0"] > 5 * r["mean first loss, width 10"]
    for fix in ("lr 1e-3", "xavier_normal"):
        assert r[f"final loss, width 50, {fix}"] < 0.5


# ---------------------------------------------------------------- 2.4


def test_2_4_the_sweep_identity_is_a_linear_classifier(runs: Runs) -> None:
    r = runs["2.4"]["activation_sweep"]
    train, val = _split(Config(dataset="spiral", n=300))
    best_line, _, val_acc = _logistic(train, val)
    floor = log_loss(train.y.numpy(), best_line.predict_proba(train.X.numpy()))
    assert r["final loss, identity"] >= floor - 1e-3  # no linear model beats the best one
    assert r["validation accuracy, identity"] == pytest.approx(val_acc, abs=0.1)
    bends = [r[f"final loss, {a}"] for a in ("relu", "leaky_relu", "gelu", "tanh")]
    assert max(bends) < r["final loss, sigmoid"] < r["final loss, identity"]
    assert 0 <= r["ReLU dead units, layer 2, last epoch"] < 0.5
    assert r["fc1 gradient norm, sigmoid / relu, epoch 1"] < 1


def test_2_4_sigmoid_saturates_in_depth_and_dead_relus_stay_dead(runs: Runs) -> None:
    s = runs["2.4"]["saturation_in_depth"]
    assert s["gradient norm fc7 / fc1, sigmoid"] > 1e3
    assert s["gradient norm fc7 / fc1, relu"] < 100 and s["gradient norm fc7 / fc1, tanh"] < 100
    assert s["final loss with SGD, sigmoid"] == pytest.approx(math.log(3), abs=0.01)
    assert s["final loss with Adam, sigmoid"] < s["final loss with SGD, sigmoid"] - 0.1

    d = runs["2.4"]["dead_relus"]
    train, _ = _split(Config(dataset="spiral", n=300))
    shares = torch.bincount(train.y).double() / len(train.y)
    guessing = float(-(shares * shares.log()).sum())  # the best constant prediction's loss
    assert d["dead at the start, relu"] == d["dead at the end, relu"] == 1.0
    assert d["final loss, relu"] == pytest.approx(guessing, abs=1e-3)
    assert d["dead at the end, leaky_relu"] < d["dead at the start, leaky_relu"]
    assert d["final loss, leaky_relu"] < guessing - 0.3


# ---------------------------------------------------------------- 2.5


def test_2_5_batch_sizes_and_the_image_pipeline(runs: Runs) -> None:
    b = runs["2.5"]["batch_sizes_compared"]
    assert b["final loss, batch 1"] < b["final loss, batch 16"] < b["final loss, batch full"]
    i = runs["2.5"]["a_dataset_of_images"]
    n = len(load_digits().data)
    assert i["images"] == n == 1797
    assert i["batches of 64"] == math.ceil(n / 64)
    assert i["batches of 64, drop_last"] == n // 64
    assert i["rows seen in one epoch"] == n
    t = runs["2.5"]["dataloader_vs_slicing"]
    assert t["DataLoader / slicing"] == pytest.approx(
        t["DataLoader, ms per epoch"] / t["slicing, ms per epoch"], rel=1e-9
    )


# ---------------------------------------------------------------- 2.6


def test_2_6_each_remedy_narrows_the_gap_and_early_stopping_keeps_the_best(runs: Runs) -> None:
    r = runs["2.6"]["remedies_compared"]
    for remedy in ("weight decay 1e-2", "dropout 0.3", "early stopping (patience 20)"):
        assert r[f"gap, {remedy}"] < r["gap, none"] / 2, remedy
    assert r["early stopping's last epoch"] == r["best validation epoch, no remedy"] + 20
    assert r["weight norm, none / weight decay"] > 1
    d = runs["2.6"]["dropout_train_and_eval"]
    assert d["share zeroed, training mode"] == pytest.approx(0.3, abs=5 * math.sqrt(0.21 / 1e5))
    assert d["value kept, training mode"] == pytest.approx(1 / 0.7, rel=1e-6)
    assert d["mean, training mode"] == pytest.approx(1.0, abs=0.01)
    assert d["max |eval output - input|"] == 0.0


# ---------------------------------------------------------------- 2.7


def _least_squares_loss(dataset: str) -> float:
    train, _ = _split(Config(dataset=dataset, standardize_target=False))
    A = np.hstack([train.X.double().numpy(), np.ones((len(train), 1))])
    coef, *_ = np.linalg.lstsq(A, train.y.double().numpy(), rcond=None)
    return float(np.mean((A @ coef - train.y.double().numpy()) ** 2))


def test_2_7_linear_regression_is_the_no_hidden_layer_network(runs: Runs) -> None:
    r = runs["2.7"]["network_vs_linear_regression"]
    for dataset in ("linear", "sine"):
        floor = _least_squares_loss(dataset)
        assert r[f"{dataset}: training loss, linear regression"] == pytest.approx(floor, rel=0.02)
    assert r["linear: training loss, MLP 32-32"] == pytest.approx(
        _least_squares_loss("linear"), rel=0.2
    )
    assert r["sine: training loss, MLP 32-32"] < _least_squares_loss("sine") / 10
    line, network = (
        r[f"linear: MSE beyond the data, {m}"] for m in ("linear regression", "MLP 32-32")
    )
    assert line < network
    e = runs["2.7"]["module_2_end_to_end"]
    assert e["max |hand weights - torch weights|"] < 1e-5
    assert e["validation accuracy"] > 0.85
    assert e["last batch loss"] < e["first batch loss"]
