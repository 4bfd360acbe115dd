"""Every time a run shows means the same thing: the epochs' own time, summed over the run."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from looplab.cli import run
from looplab.loop.history import History


def test_terminal_report_and_history_agree_on_the_training_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["train", "--epochs", "4", "--n", "200", "--out", str(tmp_path), "--name", "t"])
    out = capsys.readouterr().out
    assert code == 0
    said = re.search(r"4 epochs in ([\d.]+) s of training and validation", out)
    assert said is not None, out
    report = (tmp_path / "t" / "report.html").read_text()
    shown = re.search(r"4 epochs in ([\d.]+) s of training and validation", report)
    assert shown is not None
    total = History.from_csv(tmp_path / "t" / "history.csv").seconds
    assert float(said[1]) == pytest.approx(total, abs=0.005)
    assert float(shown[1]) == pytest.approx(total, abs=0.005)


def test_the_whole_command_is_timed_from_the_command_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the console script passes the time it was imported: what ran before `run` counts too
    started = time.perf_counter() - 100.0
    argv = ["train", "--epochs", "1", "--n", "100", "--out", str(tmp_path), "--name", "t"]
    assert run(argv, started_at=started) == 0
    said = re.search(r"\(the whole command: ([\d.]+) s\)", capsys.readouterr().out)
    assert said is not None
    assert 100.0 <= float(said[1]) < 100.0 + (time.perf_counter() - started - 100.0) + 0.1
