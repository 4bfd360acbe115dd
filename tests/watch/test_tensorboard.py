"""TensorBoard logging, read back from the event file with tensorboard's EventAccumulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.models import build_model
from looplab.pipeline import train as run_training
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.monitors import LayerMonitor
from looplab.watch.tensorboard import TensorBoardLogger, scalar_tag

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _read(log_dir: Path) -> Any:  # tensorboard ships no types: an EventAccumulator
    acc = event_accumulator.EventAccumulator(
        str(log_dir), size_guidance={"scalars": 0, "histograms": 0}
    )
    acc.Reload()
    return acc


def test_tags_group_train_and_validation_under_one_chart() -> None:
    assert scalar_tag("train_loss") == "loss/train"
    assert scalar_tag("val_accuracy") == "accuracy/val"
    assert scalar_tag("grad_norm/fc1") == "grad_norm/fc1"
    assert scalar_tag("lr") == "lr" and scalar_tag("epoch") is None


def test_scalars_and_histograms_match_the_history_and_the_weights(tmp_path: Path) -> None:
    config = Config(n=200, epochs=4, schedule="step", device="cpu").validate()
    data = load_prepared(config)
    model = build_model(model_spec(config, data), seed=0)
    monitor = LayerMonitor()
    history = fit(model, data, config, [monitor, TensorBoardLogger(tmp_path)])
    acc = _read(tmp_path)
    tags = acc.Tags()
    assert {
        "loss/train",
        "loss/val",
        "accuracy/train",
        "accuracy/val",
        "lr",
        "grad_norm/fc1",
        "update_ratio/fc3",
    } <= set(tags["scalars"])
    for tag, column in (
        ("loss/train", "train_loss"),
        ("accuracy/val", "val_accuracy"),
        ("lr", "lr"),
        ("grad_norm/fc2", "grad_norm/fc2"),
    ):
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [1, 2, 3, 4]
        expected = history.column(column)
        assert [e.value for e in events] == pytest.approx(expected, rel=1e-6)
    assert len({e.value for e in acc.Scalars("lr")}) > 1
    weights = acc.Histograms("weights/fc1.weight")
    assert [h.step for h in weights] == [1, 2, 3, 4]
    last = weights[-1].histogram_value
    w = model.linear(1).weight.detach()
    assert last.num == w.numel()
    assert last.sum == pytest.approx(float(w.sum()), abs=1e-4)
    assert last.min == pytest.approx(float(w.min())) and last.max == pytest.approx(float(w.max()))
    assert "gradients/fc3.bias" in tags["histograms"]


def test_train_with_tensorboard_writes_the_event_file_into_the_run_dir(tmp_path: Path) -> None:
    config = Config(n=200, epochs=3, tensorboard=True, out=str(tmp_path), device="cpu").validate()
    result = run_training(config)
    assert result.run_dir is not None
    assert list(result.run_dir.glob("events.out.tfevents.*"))
    losses = [e.value for e in _read(result.run_dir).Scalars("loss/train")]
    assert losses == pytest.approx(result.history.column("train_loss"), rel=1e-6)
    assert torch.isfinite(torch.tensor(losses)).all()
