"""`looplab sweep` end to end: one output directory with the table, pictures and report."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from looplab.cli import run


def test_sweep_writes_tables_figures_and_a_self_contained_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        [
            "sweep",
            "--vary",
            "hidden=4;8,8",
            "--seeds",
            "2",
            "--epochs",
            "3",
            "--n",
            "100",
            "--out",
            str(tmp_path),
            "--name",
            "s",
            "--target-metric",
            "0.6",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "4 runs in" in out and "sweep saved in" in out
    folder = tmp_path / "s"
    with (folder / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["hidden"] for r in rows] == ["4", "8,8"] and rows[0]["seeds"] == "2"
    with (folder / "runs.csv").open() as f:
        runs = list(csv.DictReader(f))
    assert len(runs) == 4 and [r["seed"] for r in runs] == ["0", "1", "0", "1"]
    mean = (float(runs[0]["final val_accuracy"]) + float(runs[1]["final val_accuracy"])) / 2
    assert float(rows[0]["final val_acc"]) == mean
    assert (folder / "results.md").read_text().count("\n| ") == 4  # header, separator, 2 cells
    page = (folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and 'src="http' not in page
    assert not (folder / "runs").exists()  # runs are not written unless asked
    for png in ("loss.png", "metric.png", "final.png"):
        assert (folder / png).stat().st_size > 10_000


def test_sweep_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sweep", "--vary", "lr=0.1,x", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "error: lr must be a number, got 'x'"
    assert run(["sweep", "--out", str(tmp_path)]) == 2
    assert "--vary" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing written for a sweep that could not start


def test_save_runs_writes_each_run_directory_inside_the_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        [
            "sweep",
            "--vary",
            "activation=relu,tanh",
            "--epochs",
            "1",
            "--n",
            "60",
            "--out",
            str(tmp_path),
            "--name",
            "s",
            "--save-runs",
        ]
    )
    assert code == 0
    runs = sorted(p.name for p in (tmp_path / "s" / "runs").iterdir())
    assert runs == ["relu-seed0", "tanh-seed0"]
    assert (tmp_path / "s" / "runs" / "tanh-seed0" / "model.pt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # nothing outside the sweep
