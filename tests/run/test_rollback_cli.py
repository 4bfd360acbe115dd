"""--on-nan rollback through the CLI: every rollback is recorded, in the history's notes, in
messages.txt and in the report, even when each one goes back to a checkpoint written before
the previous rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from looplab.cli import run
from looplab.run.rollback import ROLLBACK


def test_three_rollbacks_are_all_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # SGD at lr 6 on y = 3x + 1 diverges; so does 3 and 1.5; 0.75 converges: three rollbacks,
    # each back to the checkpoint written before the first step (the only one there is)
    args = ["train", "--dataset", "linear", "--model", "linear", "--optimizer", "sgd",
            "--lr", "6", "--epochs", "10", "--batch-size", "8", "--on-nan", "rollback",
            "--out", str(tmp_path), "--name", "r"]  # fmt: skip
    assert run(args) == 0
    err = capsys.readouterr().err
    messages = (tmp_path / "r" / "messages.txt").read_text().splitlines()
    rollbacks = [m for m in messages if m.startswith(f"{ROLLBACK}: ")]
    assert [m.split(":")[1].strip() for m in rollbacks] == ["1/3", "2/3", "3/3"]
    assert [m.rsplit(" ", 1)[1] for m in rollbacks] == ["3", "1.5", "0.75"]  # halved each time
    report = (tmp_path / "r" / "report.html").read_text()
    for m in rollbacks:
        assert m.split(";")[0].split(": ", 1)[1] in report
    assert err.count("note: rollback:") == 3  # each said once while training
