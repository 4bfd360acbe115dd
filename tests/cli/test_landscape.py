"""`looplab landscape` end to end: a trained run's pictures, the linear view, and its errors."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import torch

from looplab.cli import run
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.models.losses import TaskLoss
from looplab.run.saved import load_run


def test_landscape_of_a_run_writes_its_pictures_and_the_trained_loss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            [
                "train",
                "--epochs",
                "3",
                "--n",
                "120",
                "--hidden",
                "6",
                "--out",
                str(tmp_path),
                "--name",
                "r",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert run(["landscape", str(tmp_path / "r"), "--resolution", "5"]) == 0
    out = capsys.readouterr().out
    for name in ("line", "contour", "surface", "path"):
        png = tmp_path / "r" / f"landscape_{name}.png"
        assert png.read_bytes()[:4] == b"\x89PNG", name
    saved = load_run(tmp_path / "r")
    assert saved.config is not None
    train_split = load_prepared(saved.config).train
    assert isinstance(train_split, Split)
    with torch.no_grad():
        expected = float(TaskLoss(saved.task)(saved.model(train_split.X), train_split.y))
    shown = re.search(r"loss at the trained weights: (\S+)", out)
    assert shown is not None, out
    assert float(shown.group(1)) == pytest.approx(expected, rel=1e-3)


def test_linear_landscape_reports_the_optimum_and_each_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        [
            "landscape",
            "--linear",
            "--batch-sizes",
            "full,1",
            "--epochs",
            "2",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "full batch (160): 2 steps" in out and "stochastic (1): 320 steps" in out
    assert (tmp_path / "landscape_linear.png").stat().st_size > 10_000


def test_landscape_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["landscape"]) == 2
    assert "give a run directory" in capsys.readouterr().err
    assert run(["landscape", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run(["landscape", "--linear", "--dataset", "moons", "--out", str(tmp_path)]) == 2
    assert "use --dataset linear" in capsys.readouterr().err


def test_the_grid_progress_bar_appears_only_for_slow_grids(monkeypatch: pytest.MonkeyPatch) -> None:
    from looplab.cli import landscape as module

    clock = [100.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])  # what LazyProgress reads
    fast = module.LazyProgress("grid")
    fast(0, 41)
    clock[0] += 0.001  # a row in 1 ms: 41 rows take 0.04 s
    fast(1, 41)
    assert fast.progress is None
    slow = module.LazyProgress("grid")
    slow(0, 41)
    clock[0] += 0.1  # a row in 100 ms: 4 s for the grid
    slow(1, 41)
    assert slow.progress is not None
    slow(41, 41)  # done: the bar is stopped
    assert slow.progress.finished
