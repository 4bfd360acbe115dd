"""`looplab lr-find` end to end."""

from __future__ import annotations

import csv
import itertools
import re
from pathlib import Path

import pytest

from looplab.cli import run


def test_lr_find_prints_a_suggestion_and_writes_the_curve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        [
            "lr-find",
            "--dataset",
            "linear",
            "--model",
            "linear",
            "--optimizer",
            "sgd",
            "--batch-size",
            "full",
            "--steps",
            "120",
            "--out",
            str(tmp_path),
            "--name",
            "f",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    suggested = re.search(r"suggested learning rate: (\S+)", out)
    assert suggested is not None, out
    assert 0.01 < float(suggested.group(1)) < 0.5
    with (tmp_path / "f" / "lr_find.csv").open() as f:
        rows = list(csv.DictReader(f))
    steps = re.search(r"(\d+) steps from lr", out)
    assert steps is not None, out
    assert len(rows) == int(steps.group(1)) < 120  # stopped early: the loss exploded
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[0] == pytest.approx(1e-6) and all(b > a for a, b in itertools.pairwise(lrs))
    assert (tmp_path / "f" / "lr_find.png").stat().st_size > 10_000


def test_lr_find_rejects_a_bad_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["lr-find", "--start-lr", "1", "--end-lr", "0.5", "--out", str(tmp_path)]) == 2
    assert "0 < start lr < end lr" in capsys.readouterr().err
