"""The training path a run saves: what is recorded, when, and that it reads back."""

from __future__ import annotations

from pathlib import Path

import torch

from looplab.config import Config
from looplab.pipeline import train
from looplab.watch.path import PathRecorder, TrainingPath, flat_parameters


def test_epoch_snapshots_start_at_the_initial_weights_and_end_at_the_final_ones(
    tmp_path: Path,
) -> None:
    config = Config(epochs=4, n=100, hidden=[4]).validate()
    recorder, steps = PathRecorder(), PathRecorder(every="step")
    result = train(config, callbacks=[recorder, steps], write=False)
    path = recorder.path
    assert path.epochs == [0, 1, 2, 3, 4]
    assert path.points.shape == (5, sum(p.numel() for p in result.model.parameters()))
    assert torch.equal(path.points[-1], flat_parameters(result.model))
    assert not torch.equal(path.points[0], path.points[-1])
    assert len(steps.path.points) == 1 + 4 * 3  # 80 training rows in batches of 32
    torch.testing.assert_close(steps.path.points[::3], path.points)  # same snapshots at epoch ends
    path.save(tmp_path / "path.pt")
    back = TrainingPath.load(tmp_path / "path.pt")
    assert back.names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert torch.equal(back.points, path.points) and back.steps == path.steps


def test_a_path_over_its_byte_budget_keeps_every_kth_epoch_and_the_last() -> None:
    config = Config(epochs=10, n=100, hidden=[4]).validate()  # 17 parameters, 68 bytes a point
    recorder = PathRecorder(max_bytes=68 * 4)  # room for 4 of the 12 snapshots: every 3rd epoch
    train(config, callbacks=[recorder], write=False)
    assert recorder.path.epochs == [0, 3, 6, 9, 10]


def test_a_written_run_saves_its_path(quick_config: Config) -> None:
    result = train(quick_config)
    assert result.run_dir is not None
    path = TrainingPath.load(result.run_dir / "path.pt")
    assert path.epochs == list(range(quick_config.epochs + 1))
    assert torch.equal(path.points[-1], flat_parameters(result.model))


def test_after_early_stopping_the_last_snapshot_is_the_restored_best_epoch() -> None:
    config = Config(epochs=40, n=100, hidden=[16], lr=0.3, patience=2).validate()
    recorder = PathRecorder()
    result = train(config, callbacks=[recorder], write=False)
    path = recorder.path
    stopped = len(result.history)
    assert stopped < 40  # early stopping did stop
    best = int(min(result.history, key=lambda row: row["val_loss"])["epoch"])
    assert path.epochs[-1] == best and path.epochs[-2] == stopped
    assert torch.equal(path.points[-1], path.points[best])  # the restored weights, seen before
    assert torch.equal(path.points[-1], flat_parameters(result.model))
