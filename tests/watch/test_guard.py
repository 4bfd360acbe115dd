"""The divergence guard: stop with the step and the layer, or roll back with half the lr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from looplab.cli import run
from looplab.config import Config
from looplab.data.prepared import PreparedData, load_prepared
from looplab.loop.events import Callback
from looplab.loop.history import History
from looplab.loop.state import LoopState
from looplab.models.mlp import MLP, build_model
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.run.rollback import MAX_ROLLBACKS, fit_with_rollback
from looplab.watch.checkpointer import Checkpointer
from looplab.watch.diagnoses import Diagnoses
from looplab.watch.guard import Diverged, DivergenceGuard


def setup(**fields: Any) -> tuple[Config, PreparedData, MLP]:
    config = Config(n=100, batch_size=20, device="cpu", **fields).validate()
    data = load_prepared(config)
    return config, data, build_model(model_spec(config, data), seed=0)


def fit_rolling_back(
    model: MLP, data: PreparedData, config: Config, callbacks: list[Callback], checkpoints: Path
) -> History:
    """``fit`` under the rollback of a run with ``on_nan = "rollback"``."""
    return fit_with_rollback(
        lambda resume: fit(model, data, config, callbacks, resume), checkpoints, rolls_back=True
    )


class PoisonGradient(Callback):
    """From step ``at`` on, ``fc2``'s weight gradient is NaN (fc1's stays finite)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_fit_start(self, state: LoopState) -> None:
        def hook(grad: Tensor) -> Tensor:
            return grad * float("nan") if state.step + 1 >= self.at else grad

        assert isinstance(state.model, MLP)
        state.model.linear(2).weight.register_hook(hook)


def test_nonfinite_gradient_stops_naming_the_step_and_the_first_layer() -> None:
    config, data, model = setup(epochs=3)  # 4 batches per epoch
    with pytest.raises(Diverged) as info:
        fit(model, data, config, [PoisonGradient(at=6), DivergenceGuard()])
    assert info.value.step == 6 and info.value.layer == "fc2"
    assert str(info.value) == (
        "training diverged at step 6 (epoch 2, batch 2): a gradient is not finite; first layer "
        "with a non-finite gradient: fc2; lower --lr, or use --on-nan rollback"
    )


def test_a_loss_that_overflows_at_once_stops_the_run() -> None:
    config, data, model = setup(
        dataset="linear", model="linear", optimizer="sgd", lr=1e12, epochs=5
    )
    with pytest.raises(Diverged, match=r"training diverged at step 3 .*: the loss is inf"):
        fit(model, data, config, [DivergenceGuard()])


def test_a_runaway_finite_loss_stops_the_run_with_the_diagnosis_why() -> None:
    # SGD on least squares at lr 3: each step overshoots further and the loss grows about 10x a
    # step (it would overflow within 30 steps). The guard stops it once the median of 3 steps
    # is over 100x the first step's loss, while everything is still finite.
    config, data, model = setup(dataset="linear", model="linear", optimizer="sgd", lr=3.0, epochs=5)
    with pytest.raises(Diverged) as info:
        fit(model, data, config, [Diagnoses(), DivergenceGuard()])
    message = str(info.value)
    assert message.startswith(f"training diverged at step {info.value.step} (epoch 1, batch ")
    assert "the training loss grew to" in message and "x its start" in message
    assert "why: the steps overshoot" in message and "lr 3 is too large here" in message
    assert "try a lower learning rate (--lr 0.3)" in message
    assert message.endswith("; or use --on-nan rollback")
    assert info.value.layer is None and info.value.lr == 3.0
    assert all(torch.isfinite(p).all() for p in model.parameters())  # stopped before overflow


def test_without_the_diagnoses_the_guard_still_stops_a_runaway_loss() -> None:
    config, data, model = setup(dataset="linear", model="linear", optimizer="sgd", lr=3.0, epochs=5)
    with pytest.raises(Diverged, match=r": the training loss grew to .*; lower --lr, or use --on"):
        fit(model, data, config, [DivergenceGuard()])


def test_rollback_halves_the_lr_and_continues(tmp_path: Path) -> None:
    # SGD on least squares diverges above lr ~ 1 here: 3 overflows within 30 steps, 1.5 grows
    # more slowly but also runs away, 0.75 converges. The only checkpoint is the initial one,
    # written because of on_nan="rollback".
    config, data, model = setup(
        dataset="linear", model="linear", optimizer="sgd", lr=3.0, epochs=8, on_nan="rollback"
    )
    saver = Checkpointer(tmp_path, initial=True)
    history = fit_rolling_back(model, data, config, [DivergenceGuard(), saver], tmp_path)
    rollbacks = [m for m in history.messages if m.startswith("rollback")]
    assert len(rollbacks) == 2  # each rollback is its own note, though both restored step 0
    assert "1/3" in rollbacks[0] and "halved the learning rate to 1.5" in rollbacks[0]
    assert "2/3" in rollbacks[1] and "halved the learning rate to 0.75" in rollbacks[1]
    assert len(history) == 8 and history.last["lr"] == 0.75
    assert history[0]["lr"] == 0.75  # the run restarted from step 0 with the halved lr
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_rollback_gives_up_after_three(tmp_path: Path) -> None:
    config, data, model = setup(
        dataset="linear", model="linear", optimizer="sgd", lr=1e5, epochs=5, on_nan="rollback"
    )
    saver = Checkpointer(tmp_path, initial=True)
    with pytest.raises(Diverged, match=f"gave up after {MAX_ROLLBACKS} rollbacks"):
        fit_rolling_back(model, data, config, [DivergenceGuard(), saver], tmp_path)


def test_cli_rollback_reports_each_and_a_failed_run_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--dataset", "linear", "--model", "linear", "--optimizer", "sgd",
            "--n", "100", "--epochs", "4", "--device", "cpu", "--out", str(tmp_path)]  # fmt: skip
    assert run([*args, "--lr", "1e5", "--name", "stop"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("error: training diverged at step")
    assert "Traceback" not in err
    status = json.loads((tmp_path / "stop" / "status.json").read_text())
    assert status["status"] == "failed" and "diverged" in status["message"]
    assert run([*args, "--lr", "1e5", "--name", "rb", "--on-nan", "rollback"]) == 2
    err = capsys.readouterr().err
    assert "gave up after 3 rollbacks, at lr 5e+04, 2.5e+04, 1.25e+04" in err
    status = json.loads((tmp_path / "rb" / "status.json").read_text())
    assert status["status"] == "failed" and "gave up" in status["message"]


def test_cli_sgd_at_lr_50_stops_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 9 §5: a finite loss that runs away (to 1e9 here, 1e27 in the report) used to end
    "complete" with exit 0 and no word without --monitor."""
    args = ["train", "--optimizer", "sgd", "--lr", "50", "--n", "300", "--epochs", "30",
            "--device", "cpu", "--out", str(tmp_path), "--name", "lr50"]  # fmt: skip
    assert run(args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert errors == [err.splitlines()[-1]]  # one line, the last
    assert errors[0].startswith("error: training diverged at step 4 (epoch 1, batch 4): the ")
    assert "training loss grew to" in errors[0] and "lr 50 is too large" in errors[0]
    assert "try a lower learning rate (--lr 5)" in errors[0]
    assert "Traceback" not in err
    status = json.loads((tmp_path / "lr50" / "status.json").read_text())
    assert status["status"] == "failed" and "training loss grew to" in status["message"]


class PoisonOnce(Callback):
    """At step ``at`` of the first attempt only, fc1's gradient turns NaN (after the step: the
    guard sees it and rolls back; the retried run is left alone)."""

    def __init__(self, at: int) -> None:
        self.at, self.fired = at, False

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if state.step == self.at and not self.fired:
            self.fired = True
            assert isinstance(state.model, MLP)
            grad = state.model.linear(1).weight.grad
            assert grad is not None
            grad.fill_(float("nan"))


@pytest.mark.parametrize("impl", ["torch", "scratch"])
@pytest.mark.parametrize("schedule", ["step", "cosine", "warmup_cosine", "one_cycle", "plateau"])
def test_rollback_halves_the_lr_under_every_schedule(
    tmp_path: Path, schedule: str, impl: str
) -> None:
    """The halved lr must reach wherever the scheduler recomputes it from (SequentialLR's child
    schedulers, OneCycleLR's max_lr/min_lr), not only the optimizer's current lr: the rolled
    back run's lr per epoch equals that of a run started at half the lr."""
    fields = dict(epochs=6, impl=impl, schedule=schedule, on_nan="rollback")
    config, data, model = setup(lr=0.02, **fields)
    saver = Checkpointer(tmp_path, initial=True)
    guarded = [PoisonOnce(at=7), DivergenceGuard(), saver]
    rolled = fit_rolling_back(model, data, config, guarded, tmp_path)
    assert sum(m.startswith("rollback") for m in rolled.messages) == 1
    reference_config, reference_data, reference = setup(lr=0.01, **fields)
    expected = fit(reference, reference_data, reference_config)
    assert rolled.column("lr") == pytest.approx(expected.column("lr"), rel=1e-9)
