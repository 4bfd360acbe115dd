"""fit: reproducible, validated each epoch, extended by callbacks, stopped early on request."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from looplab import loop
from looplab.config import OPTIMIZERS, Config
from looplab.data import LoaderBatches, PreparedData, load_prepared, make_batches
from looplab.loop import Callback, History, LoopState, StopTraining, evaluate
from looplab.loop.history import Row
from looplab.models import ModelSpec, TaskLoss, build_model
from looplab.run.fit import fit


def run(config: Config) -> tuple[History, torch.nn.Module, PreparedData]:
    data = load_prepared(config)
    model = build_model(
        ModelSpec(data.n_features, data.n_outputs, tuple(config.hidden)), seed=config.seed
    )
    return fit(model, data, config), model, data


def test_same_seed_gives_identical_history_and_weights() -> None:
    config = Config(epochs=4, n=300, dropout=0.1).validate()
    (h1, m1, _), (h2, m2, _) = run(config), run(config)
    assert h1.without_timing() == h2.without_timing()
    assert all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters(), strict=True))
    h3, _, _ = run(config.replace(seed=1))
    assert h3.without_timing() != h1.without_timing()


def test_rows_hold_train_and_validation_metrics() -> None:
    history, model, data = run(Config(epochs=3, n=300).validate())
    assert [r["epoch"] for r in history] == [1.0, 2.0, 3.0]
    last = history.last
    for key in (
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
        "time_s",
        "samples_per_s",
    ):
        assert key in last
    # the validation numbers are those of the final model, in eval mode
    assert data.val is not None
    val = evaluate(model, make_batches(data.val, 64, shuffle=False), TaskLoss("binary"), "binary")
    assert val["loss"] == pytest.approx(last["val_loss"], rel=1e-6)
    regression, _, _ = run(Config(dataset="sine", epochs=2, n=100).validate())
    assert {"train_r2", "train_mae", "val_r2", "val_mae"} <= set(regression.last)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_lowers_the_loss(optimizer: str) -> None:
    lr = 0.3 if optimizer == "sgd" else 0.1 if optimizer in ("momentum", "nesterov") else 0.01
    history, _, _ = run(Config(optimizer=optimizer, lr=lr, epochs=8, n=300).validate())
    assert history.last["train_loss"] < 0.7 * history[0]["train_loss"]


def test_early_stopping_restores_the_best_weights() -> None:
    # a big net on few noisy points overfits: validation loss turns up, patience stops it
    config = Config(n=80, noise=0.4, hidden=[128, 128], lr=0.02, epochs=300, patience=5).validate()
    history, model, data = run(config)
    assert len(history) < 300
    best = min(history.column("val_loss"))
    assert data.val is not None
    val = evaluate(model, make_batches(data.val, 64, shuffle=False), TaskLoss("binary"), "binary")
    assert val["loss"] == pytest.approx(best, rel=1e-6)
    assert any("early stopping" in m for m in history.messages)


class Recorder(Callback):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_fit_start(self, state: LoopState) -> None:
        self.events.append("fit_start")

    def on_epoch_start(self, state: LoopState, epoch: int) -> None:
        self.events.append(f"epoch_start {epoch}")

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: torch.Tensor) -> None:
        self.events.append(f"batch_end {epoch}.{batch} step {state.step}")

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        self.events.append(f"epoch_end {epoch} rows {len(state.history)}")

    def on_fit_end(self, state: LoopState, history: History) -> None:
        self.events.append("fit_end")


def test_callback_events_come_in_order_with_explicit_arguments() -> None:
    config = Config(
        epochs=2, n=50, batch_size=20, val_fraction=0.2
    ).validate()  # 40 rows: 2 batches
    data = load_prepared(config)
    recorder = Recorder()
    fit(build_model(ModelSpec(2, 1, (4,)), seed=0), data, config, callbacks=[recorder])
    assert recorder.events == [
        "fit_start",
        "epoch_start 1",
        "batch_end 1.0 step 1",
        "batch_end 1.1 step 2",
        "epoch_end 1 rows 1",
        "epoch_start 2",
        "batch_end 2.0 step 3",
        "batch_end 2.1 step 4",
        "epoch_end 2 rows 2",
        "fit_end",
    ]


class Arguments(Callback):
    """Checks each event's arguments against the documented ones as it is called."""

    def __init__(self) -> None:
        self.state: LoopState | None = None
        self.calls: list[str] = []

    def on_fit_start(self, state: LoopState) -> None:
        self.state = state
        assert state.epoch == state.batch == state.step == 0 and len(state.history) == 0
        self.calls.append("on_fit_start")

    def on_epoch_start(self, state: LoopState, epoch: int) -> None:
        assert state is self.state and state.epoch == epoch - 1 and state.batch == 0
        self.calls.append(f"on_epoch_start {epoch}")

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: torch.Tensor) -> None:
        assert state is self.state and state.batch == batch + 1  # batch: 0-based, just done
        assert loss.ndim == 0 and loss.requires_grad  # this batch's mean loss, before the step
        self.calls.append(f"on_batch_end {epoch}.{batch} step {state.step}")

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        assert state is self.state and state.epoch == epoch and state.batch == 0
        assert row is state.history.rows[-1] and row["epoch"] == epoch and "val_loss" in row
        self.calls.append(f"on_epoch_end {epoch}")

    def on_fit_end(self, state: LoopState, history: History) -> None:
        assert state is self.state and history is state.history
        self.calls.append("on_fit_end")


def test_the_kernel_calls_the_five_events_in_order_with_their_arguments() -> None:
    """``looplab.loop.fit`` itself, on plain torch objects: 40 rows in batches of 20."""
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(50, 2, generator=g), torch.randint(0, 2, (50,), generator=g).float()
    train = LoaderBatches(DataLoader(TensorDataset(X[:40], y[:40]), batch_size=20, shuffle=True))
    val = LoaderBatches(TensorDataset(X[40:], y[40:]), batch_size=5, shuffle=False)
    model = build_model(ModelSpec(2, 1, (4,)), seed=0)
    events = Arguments()
    history = loop.fit(
        model,
        train,
        TaskLoss("binary"),
        torch.optim.SGD(model.parameters(), 0.1),
        epochs=2,
        task="binary",
        val_batches=val,
        callbacks=[events],
    )
    assert events.calls == [
        "on_fit_start",
        "on_epoch_start 1",
        "on_batch_end 1.0 step 1",
        "on_batch_end 1.1 step 2",
        "on_epoch_end 1",
        "on_epoch_start 2",
        "on_batch_end 2.0 step 3",
        "on_batch_end 2.1 step 4",
        "on_epoch_end 2",
        "on_fit_end",
    ]
    assert events.state is not None and history is events.state.history and len(history) == 2


def test_an_event_calls_only_the_callbacks_that_override_it() -> None:
    """A callback's no-op events are not called (each call costs time every batch); one that
    sets an event on the object itself is."""
    from looplab.loop.events import CallbackList

    class EpochsOnly(Callback):
        def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
            pass

    class Spy(Callback):
        def __getattribute__(self, name: str) -> object:
            if name == "on_batch_end":
                raise AssertionError("a no-op event was called")
            return super().__getattribute__(name)

    seen: list[int] = []
    by_hand = Callback()
    by_hand.on_batch_end = lambda state, epoch, batch, loss: seen.append(batch)  # type: ignore[method-assign]
    epochs_only, recorder, spy = EpochsOnly(), Recorder(), Spy()
    events = CallbackList([epochs_only, recorder, by_hand])
    assert events.batch_end == [recorder, by_hand]
    assert events.epoch_end == [epochs_only, recorder]
    assert events.fit_start == events.epoch_start == events.fit_end == [recorder]
    config = Config(epochs=2, n=50, batch_size=20).validate()  # 40 training rows: 2 batches
    fit(build_model(ModelSpec(2, 1, (4,)), seed=0), load_prepared(config), config, [spy, by_hand])
    assert seen == [0, 1, 0, 1]


def test_a_callback_stops_training_cleanly() -> None:
    class StopAfterTwo(Callback):
        def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
            if epoch == 2:
                raise StopTraining

    config = Config(epochs=10, n=100).validate()
    data = load_prepared(config)
    recorder = Recorder()
    history = fit(
        build_model(ModelSpec(2, 1, (4,)), seed=0), data, config, [StopAfterTwo(), recorder]
    )
    assert len(history) == 2
    assert recorder.events[-1] == "fit_end"


def test_fit_accepts_a_torch_dataset() -> None:
    torch.manual_seed(0)
    X = torch.randn(256, 3)
    y = (X.sum(1) > 0).float()
    data = PreparedData(
        train=TensorDataset(X[:200], y[:200]), val=TensorDataset(X[200:], y[200:]), task="binary"
    )
    model = build_model(ModelSpec(3, 1, (8,)), seed=0)
    history = fit(model, data, Config(epochs=20, batch_size=32).validate())
    assert history.last["val_accuracy"] > 0.9


def test_history_round_trips_through_csv(tmp_path: Path) -> None:
    history, _, _ = run(Config(epochs=2, n=100).validate())
    history.to_csv(tmp_path / "h.csv")
    again = History.from_csv(tmp_path / "h.csv")
    assert again.rows == history.rows
    assert history.to_dicts() == history.rows and history.to_dicts() is not history.rows
