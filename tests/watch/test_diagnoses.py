"""Each diagnosis, provoked: it says once what happened and what to try; healthy runs stay quiet.

The non-finite case is the course's own (lesson 2.3): a 1-50-1 ReLU net with ``torch.randn``
weights on 300 evenly spaced points of sin(x) diverges at lr 1e-2; width 10 converges, and so
do the fixes the message suggests.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import Tensor

from looplab.cli import run
from looplab.config import Config
from looplab.data.prepared import PreparedData, load_prepared
from looplab.data.split import Split
from looplab.experiments.sine_width import run_sine_lesson, sine_model
from looplab.loop.events import Callback, StopTraining
from looplab.loop.state import LoopState
from looplab.models import ModelSpec, build_model
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.diagnoses import (
    DEAD_RELU,
    DIVERGING,
    EXPLODING,
    KINDS,
    NONFINITE,
    OVERFITTING,
    PLATEAU,
    Diagnoses,
    diagnoses_in,
    first_nonfinite_layer,
    nonfinite_explanation,
    oversized_layers,
)
from looplab.watch.monitors import LayerMonitor

SEEDS = range(5)


class StopWhenNonFinite(Callback):
    """Ends a diverged run early (the rest of its 1000 epochs is NaN anyway)."""

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if not math.isfinite(float(loss.detach())) and state.step > 2:
            raise StopTraining


@pytest.mark.parametrize("seed", SEEDS)
def test_lesson_2_3_width_50_diverges_and_the_diagnosis_says_why_and_what_to_try(seed: int) -> None:
    diagnoses = Diagnoses()
    history = run_sine_lesson(50, seed, callbacks=[diagnoses, StopWhenNonFinite()])
    first = history[0]["train_loss"]
    assert 160 <= first <= 950  # "the loss starts at 160-940"
    assert len(history) < 10  # stopped at the first non-finite loss, within a few steps
    (message,) = [m for m in history.messages if m.startswith(NONFINITE)]
    step = len(history) + 1  # full batch: one step per epoch; that epoch's row never closed
    assert f"the loss became inf at step {step} (epoch {step})" in message
    assert "initial weights are too large for this width" in message
    assert "fc2 has std" in message and "over fan-in 50" in message
    assert f"first loss ({first:.4g})" in message
    assert "--init xavier_normal" in message and "--lr 0.001" in message
    why = nonfinite_explanation(history)
    assert why is not None and why.startswith("why: the initial weights are too large")


@pytest.mark.parametrize("seed", SEEDS)
def test_lesson_2_3_width_10_converges_quietly(seed: int) -> None:
    diagnoses = Diagnoses()
    history = run_sine_lesson(10, seed, callbacks=[diagnoses])
    assert 0.13 < history.last["train_loss"] < 0.17  # "about 0.15 for seeds 0-4"
    assert not [m for m in history.messages if m.startswith(NONFINITE)]


@pytest.mark.parametrize("seed", SEEDS)
def test_lesson_2_3_the_suggested_lower_learning_rate_fixes_width_50(seed: int) -> None:
    history = run_sine_lesson(50, seed, lr=1e-3)
    assert history.last["train_loss"] < 0.2


@pytest.mark.parametrize("init", ["xavier_normal", "default"])
def test_lesson_2_3_a_scaled_initialization_fixes_width_50(init: str) -> None:
    history = run_sine_lesson(50, 0, init=init)
    assert history.last["train_loss"] < 0.16
    assert not oversized_layers(sine_model(50, 0, init))
    assert [name for name, _, _ in oversized_layers(sine_model(50, 0))] == ["fc2"]


def test_the_runaway_loss_and_the_gradient_explosion_are_named_before_the_nan() -> None:
    monitor = LayerMonitor()
    history = run_sine_lesson(50, 0, callbacks=[monitor, Diagnoses(monitor), StopWhenNonFinite()])
    kinds = [note.kind for note in diagnoses_in(history)]
    assert kinds == [DIVERGING, EXPLODING, NONFINITE]  # and no "dead ReLU" from the NaN epochs
    diverging, exploding, _ = diagnoses_in(history)
    losses = history.column("train_loss")  # full batch: one step per epoch
    assert diverging.step == 4 and diverging.numbers["start"] == losses[0]
    assert diverging.numbers["recent"] == sorted(losses[1:4])[1]  # median of steps 2-4
    assert "initial weights are too large" in diverging.text
    assert "the total gradient norm grew" in exploding.text


def test_first_nonfinite_layer_names_the_first_layer_in_forward_order() -> None:
    model = build_model(ModelSpec(2, 1, (4, 4), "relu"), seed=0)
    model(torch.randn(3, 2)).sum().backward()
    assert first_nonfinite_layer(model) is None
    fc2_bias, fc3_weight = model.linear(2).bias.grad, model.linear(3).weight.grad
    assert fc2_bias is not None and fc3_weight is not None
    fc3_weight[0, 0] = math.inf
    assert first_nonfinite_layer(model) == "fc3"
    fc2_bias[1] = math.nan
    assert first_nonfinite_layer(model) == "fc2"


def _regression(n: int = 64) -> PreparedData:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 2, generator=g)
    y = 3 * X[:, 0] - X[:, 1] + 1
    return PreparedData(train=Split(X, y), val=None, task="regression", feature_names=["a", "b"])


def test_exploding_gradients_from_a_too_large_learning_rate() -> None:
    # linear regression, full batch: lr 1.5 > 2 / (largest curvature) makes each step overshoot
    model = build_model(ModelSpec(2, 1), seed=0)
    monitor, diagnoses = LayerMonitor(), Diagnoses()
    diagnoses.monitor = monitor
    config = Config(optimizer="sgd", lr=1.5, epochs=12, batch_size="full", device="cpu")
    history = fit(model, _regression(), config, [monitor, diagnoses])
    norms = history.column("grad_norm/total")
    assert norms[-1] > 100 * norms[0] and all(math.isfinite(v) for v in norms)
    (message,) = [m for m in history.messages if m.startswith(EXPLODING)]
    assert "try a lower learning rate (--lr 0.15)" in message


def test_dead_relus_from_a_large_negative_bias() -> None:
    data = _regression()
    model = build_model(ModelSpec(2, 1, (10,), "relu"), seed=0)
    with torch.no_grad():
        model.linear(1).bias[1:] = -50.0  # 9 of 10 units can never fire: the layer passes ~nothing
    monitor = LayerMonitor()
    history = fit(
        model,
        data,
        Config(optimizer="sgd", lr=0.01, epochs=3, device="cpu"),
        [monitor, Diagnoses(monitor)],
    )
    (message,) = [m for m in history.messages if m.startswith(DEAD_RELU)]
    assert "in epoch 1, 90% of act1's units never fired" in message
    assert "leaky_relu" in message


def test_plateau_when_the_learning_rate_is_far_too_small() -> None:
    data = _regression()
    model = build_model(ModelSpec(2, 1, (8,), "relu"), seed=0)
    config = Config(optimizer="sgd", lr=1e-9, epochs=8, device="cpu")
    history = fit(model, data, config, [Diagnoses(plateau_epochs=5)])
    (note,) = history.notes_of(PLATEAU)
    assert note.epoch == 6  # the first epoch with 5 before it to compare
    assert "improved by under 0.01% in 5 epochs" in note.text
    assert "the weights moved only under 0.01% of their norm" in note.text
    assert note.advice == "try a higher learning rate (--lr 1e-08)"


def test_overfitting_on_a_few_noisy_points_with_a_large_mlp() -> None:
    config = Config(
        dataset="moons",
        n=60,
        noise=0.4,
        val_fraction=0.5,
        hidden=[64, 64],
        lr=0.01,
        batch_size="full",
        epochs=120,
        device="cpu",
    ).validate()
    data = load_prepared(config)
    model = build_model(model_spec(config, data), seed=0)
    history = fit(model, data, config, [Diagnoses(overfit_epochs=10)])
    (note,) = history.notes_of(OVERFITTING)
    assert "the validation loss rose from its best" in note.text and "--patience" in note.advice
    assert note.epoch is not None
    val, train = history.column("val_loss"), history.column("train_loss")[: note.epoch]
    best = min(val[: note.epoch])
    assert note.numbers["val_best"] == best and f"(epoch {val.index(best) + 1})" in note.text
    assert note.epoch - (val.index(best) + 1) >= 10  # no new best for 10 epochs
    assert min(val[note.epoch - 5 : note.epoch]) > 1.1 * best  # each of the last 5 above it
    assert train[-1] < 0.9 * train[val.index(best)]  # while training kept improving


def test_a_healthy_default_run_gets_no_diagnosis() -> None:
    config = Config(n=300, epochs=15, device="cpu").validate()
    data = load_prepared(config)
    model = build_model(model_spec(config, data), seed=0)
    monitor = LayerMonitor()
    history = fit(model, data, config, [monitor, Diagnoses(monitor)])
    assert diagnoses_in(history) == []
    assert set(KINDS) == {
        NONFINITE,
        DIVERGING,
        "unstable",
        "loss scale",
        EXPLODING,
        "vanishing gradients",
        DEAD_RELU,
        PLATEAU,
        "underfitting",
        OVERFITTING,
    }


def test_an_unscaled_csv_target_is_named_unless_looplab_standardizes_it(tmp_path: Path) -> None:
    # a regression CSV whose target is in the 1e5 range, as prices or counts often are
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 3, generator=g)
    y = 1e4 * (X @ torch.tensor([1.0, -0.5, 0.25]) + 0.3 * torch.randn(200, generator=g)) + 1e5
    rows = "".join(
        f"{a:.6f},{b:.6f},{c:.6f},{t:.2f}\n"
        for (a, b, c), t in zip(X.tolist(), y.tolist(), strict=True)
    )
    (tmp_path / "big.csv").write_text("a,b,c,y\n" + rows)
    args = ["train", "--dataset", f"csv:{tmp_path / 'big.csv'}", "--target", "y", "--epochs",
            "6", "--device", "cpu", "--out", str(tmp_path / "runs")]  # fmt: skip
    assert run([*args, "--name", "standardized"]) == 0
    assert (tmp_path / "runs" / "standardized" / "messages.txt").read_text() == ""
    assert run([*args, "--name", "raw", "--no-standardize-target"]) == 0
    (said,) = (tmp_path / "runs" / "raw" / "messages.txt").read_text().splitlines()
    assert said.startswith("loss scale: after 3 epochs the training loss is ")
    assert "worse than always predicting the mean): the target is large (mean 1.0" in said
    assert "--standardize-target" in said
