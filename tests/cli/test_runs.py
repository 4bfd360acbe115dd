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


def test_experiment_directories_are_listed_as_what_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    small = ["--epochs", "1", "--out", str(out)]
    assert run(["compare", "--batch-sizes", "8,full", "--seeds", "1", *small, "--name", "c"]) == 0
    assert run(["sweep", "--vary", "lr=0.01,0.1", "--n", "60", *small, "--name", "s"]) == 0
    assert run(["train", "--n", "60", *small, "--name", "t"]) == 0
    assert run(["lr-find", "--n", "60", "--steps", "10", *small, "--name", "l"]) == 0
    capsys.readouterr()
    infos = {i.path.name: (i.kind, i.status, i.epochs) for i in list_runs(out)}
    assert infos == {
        "c": ("compare", "complete", "-"),
        "s": ("sweep", "complete", "2/2"),
        "t": ("train", "complete", "1/1"),
        "l": ("lr-find", "complete", "-"),
    }
    assert run(["runs", str(out)]) == 0
    table = capsys.readouterr().out
    assert "failed" not in table
    sweep_line = next(line for line in table.splitlines() if "│ s " in line)
    assert "sweep" in sweep_line and "complete" in sweep_line and "2/2" in sweep_line


def test_a_damaged_status_is_shown_and_hides_no_other_run(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nested = runs_dir / "nested"
    nested.mkdir()
    (nested / "status.json").write_text("[" * 100_000 + "]" * 100_000)  # json's recursion limit
    (nested / "config.toml").write_text("epochs = [")  # damaged too
    statuses = {info.path.name: info.status for info in list_runs(runs_dir)}
    assert statuses["nested"] == "damaged"
    assert {"done", "paused", "broken", "killed", "live"} <= set(statuses)
    assert run(["runs", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert "nested damaged: status.json is damaged" in out and "│ done" in out


def test_long_names_stay_distinguishable_at_80_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from looplab.cli.output import console

    out = tmp_path / "runs"
    names = [f"sweep-of-batch-size-and-learning-rate-with-momentum-{k:02d}" for k in range(10)]
    train(quick(out, names[0], epochs=1))
    for name in names[1:]:  # the same run under ten names that differ only at their end
        shutil.copytree(out / names[0], out / name)
    monkeypatch.setattr(console, "width", 80)
    assert run(["runs", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    # the run column, folded over lines: each name, then its dataset under it
    cells = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    shown = "".join(cells).split("moons")[:-1]
    assert sorted(shown) == sorted(names)
