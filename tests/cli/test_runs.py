"""`looplab runs`: status of each run directory; `predict` on foreign or damaged runs."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from looplab.cli import run
from looplab.config import Config
from looplab.loop.events import Callback
from looplab.loop.state import LoopState
from looplab.pipeline import train
from looplab.run.directory import FORMAT_VERSION, read_status
from looplab.run.listing import list_runs
from looplab.watch.interrupt import Interrupted


class InterruptAt(Callback):
    """Behaves like a Ctrl-C caught at step ``step``: raises what the Checkpointer raises."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: torch.Tensor) -> None:
        if state.step == self.step:
            raise Interrupted(signal.SIGINT)


def quick(out: Path, name: str, **fields: Any) -> Config:
    values: dict[str, Any] = {"epochs": 2, "n": 100, "device": "cpu", "out": str(out), "name": name}
    return Config(**{**values, **fields}).validate()


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """complete, interrupted (Ctrl-C), failed (diverged), killed (SIGKILL: status 'running'
    from a dead process) and running (this process) runs."""
    out = tmp_path / "runs"
    train(quick(out, "done", checkpoint_steps=3))
    with pytest.raises(Interrupted):
        train(quick(out, "paused", checkpoint_steps=3), [InterruptAt(5)])
    with pytest.raises(Exception, match="diverged"):
        train(quick(out, "broken", dataset="linear", model="linear", optimizer="sgd", lr=1e5))
    shutil.copytree(out / "paused", out / "killed")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    status = json.loads((out / "killed" / "status.json").read_text())
    (out / "killed" / "status.json").write_text(
        json.dumps({**status, "status": "running", "pid": int(dead)})
    )
    shutil.copytree(out / "paused", out / "live")
    (out / "live" / "status.json").write_text(json.dumps({**status, "status": "running"}))
    return out


def test_runs_lists_each_status_with_dataset_metric_and_age(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statuses = {info.path.name: info.status for info in list_runs(runs_dir)}
    assert statuses == {
        "done": "complete",
        "paused": "interrupted",
        "broken": "failed",
        "killed": "interrupted",  # its process is gone but it has checkpoints
        "live": "running",  # the process that wrote it (this one) is alive
    }
    assert run(["runs", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    done = next(line for line in out.splitlines() if "│ done" in line)
    assert "complete" in done and "moons" in done and "2/2" in done and "accuracy 0." in done
    assert done.rstrip(" │").endswith(" s")  # age in seconds
    assert f"resume paused: looplab train --resume {runs_dir / 'paused'}" in out
    assert f"resume killed: looplab train --resume {runs_dir / 'killed'}" in out
    assert "broken failed: Diverged: training diverged at step" in out


def test_interrupted_run_resumes_to_complete(runs_dir: Path) -> None:
    assert read_status(runs_dir / "paused")["status"] == "interrupted"
    assert run(["train", "--resume", str(runs_dir / "paused")]) == 0
    assert read_status(runs_dir / "paused")["status"] == "complete"


def test_run_is_complete_only_after_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import looplab.report.html

    def broken_report(result: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(looplab.report.html, "write_report", broken_report)
    with pytest.raises(OSError):
        train(quick(tmp_path, "r"))
    status = read_status(tmp_path / "r")
    assert status["status"] == "failed" and "disk full" in status["message"]


def test_runs_on_a_missing_directory_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["runs", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err == (
        f"error: no runs directory '{tmp_path / 'nothing'}'; `looplab train` writes runs under "
        "runs/ (or --out DIR)\n"
    )


def test_predict_on_another_format_version_or_a_damaged_model_is_clear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train(quick(tmp_path, "m", epochs=1))
    points = tmp_path / "points.csv"
    points.write_text("x1,x2\n0.5,0.2\n")
    model_file = tmp_path / "m" / "model.pt"
    payload = torch.load(model_file, weights_only=True)
    torch.save({**payload, "format_version": FORMAT_VERSION + 1}, model_file)
    assert run(["predict", str(tmp_path / "m"), "--input", str(points)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: '{model_file}' was written in looplab format {FORMAT_VERSION + 1}, but this "
        f"looplab reads format {FORMAT_VERSION}; use the looplab version that wrote it, or "
        "train again\n"
    )
    del payload["spec"]
    torch.save(payload, model_file)
    assert run(["predict", str(tmp_path / "m"), "--input", str(points)]) == 2
    err = capsys.readouterr().err
    assert "is damaged or incomplete (KeyError: 'spec')" in err and "Traceback" not in err
