"""A full disk and a read-only file system: one line, the run left resumable, its status true.

Each test mounts a small tmpfs (root only: skipped elsewhere, with the reason), so the disk
really is full: the checkpoint, history and status writes meet ENOSPC where they happen.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from tests.conftest import remount

from looplab.cli import run
from looplab.config import Config
from looplab.errors import RunError
from looplab.loop.events import Callback
from looplab.loop.history import History
from looplab.loop.state import LoopState
from looplab.pipeline import train
from looplab.run.directory import read_status

ARGS = ["--n", "300", "--hidden", "128,128", "--epochs", "3", "--batch-size", "32",
        "--checkpoint-steps", "2", "--keep-checkpoints", "30", "--device", "cpu"]  # fmt: skip


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return dict(torch.load(run_dir / "model.pt", weights_only=True)["state_dict"])


def test_a_full_disk_stops_training_in_one_line_and_the_run_resumes_exactly(
    tmpfs: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(tmpfs)
    disk = tmpfs("2m")  # 30 checkpoints of ~200 KiB do not fit
    assert run(["train", *ARGS, "--out", str(tmp_path / "ref"), "--name", "r"]) == 0
    capsys.readouterr()
    assert run(["train", *ARGS, "--out", str(disk), "--name", "r"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and "━" not in line]
    assert lines[-1].startswith("error: cannot write ") and "the disk is full" in lines[-1], err
    assert f"continue with: looplab train --resume {disk / 'r'}" in lines[-1]
    assert "Traceback" not in err
    assert read_status(disk / "r")["status"] == "interrupted"  # true, whatever it could write
    assert not (disk / "r" / "report.html").exists()  # no half-written report
    assert not list((disk / "r" / "checkpoints").glob(".*.tmp"))
    remount(disk, "size=64m")  # space freed
    assert run(["train", "--resume", str(disk / "r")]) == 0
    assert read_status(disk / "r")["status"] == "complete"
    ref, got = weights(tmp_path / "ref" / "r"), weights(disk / "r")
    assert all(torch.equal(ref[k], got[k]) for k in ref)  # as if the disk had never filled
    assert (
        History.from_csv(disk / "r" / "history.csv").without_timing()
        == History.from_csv(tmp_path / "ref" / "r" / "history.csv").without_timing()
    )


class FillTheDisk(Callback):
    """When training ends (the final checkpoint is written), take every byte left."""

    def __init__(self, where: Path) -> None:
        self.where = where

    def on_fit_end(self, state: LoopState, history: History) -> None:
        with open(self.where / "filler", "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass


def test_a_disk_that_fills_while_the_run_writes_its_files_leaves_a_true_status(
    tmpfs: object,
) -> None:
    assert callable(tmpfs)
    disk = tmpfs("4m")
    config = Config(epochs=2, n=200, device="cpu", out=str(disk), name="r").validate()
    with pytest.raises(RunError) as info:  # the status handler's own write fails too
        train(config, [FillTheDisk(disk)])
    message = str(info.value)
    assert "the disk is full" in message and "continue with: looplab train --resume" in message
    assert "\n" not in message
    assert read_status(disk / "r")["status"] == "interrupted"  # not "running", not complete
    assert not (disk / "r" / "report.html").exists()
    os.unlink(disk / "filler")
    assert run(["train", "--resume", str(disk / "r")]) == 0  # only the files were missing
    assert read_status(disk / "r")["status"] == "complete"
    assert (disk / "r" / "report.html").stat().st_size > 1000


def test_a_read_only_file_system_is_one_line_and_changes_nothing(
    tmpfs: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(tmpfs)
    disk = tmpfs("16m")
    assert run(["train", "--epochs", "1", "--n", "60", "--out", str(disk), "--name", "r"]) == 0
    (disk / "points.csv").write_text("x1,x2\n0.5,0.2\n")
    remount(disk, "ro")
    before = sorted((p, p.stat().st_mtime_ns) for p in disk.rglob("*"))
    capsys.readouterr()
    predict = ["predict", str(disk / "r"), "--input", str(disk / "points.csv")]
    for args, fragment in [
        (["train", "--epochs", "1", "--out", str(disk / "new")], "Read-only file system"),
        (["train", "--resume", str(disk / "r"), "--epochs", "2"], "the file system is read-only"),
        ([*predict, "--output", str(disk / "p.csv")], "Read-only file system"),
        (["lr-find", "--n", "60", "--out", str(disk)], "Read-only file system"),
    ]:
        assert run(args) == 2, args
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert sorted((p, p.stat().st_mtime_ns) for p in disk.rglob("*")) == before
