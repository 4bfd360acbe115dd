"""`looplab lr-find` end to end."""

from __future__ import annotations

import csv
import itertools
import re

import pytest

from looplab.cli import run


def test_lr_find_prints_a_suggestion_and_writes_the_curve(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
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
    suggested = float(re.search(r"suggested learning rate: (\S+)", out).group(1))  # type: ignore[union-attr]
    assert 0.01 < suggested < 0.5
    with (tmp_path / "f" / "lr_find.csv").open() as f:
        rows = list(csv.DictReader(f))
    steps = int(re.search(r"(\d+) steps from lr", out).group(1))  # type: ignore[union-attr]
    assert len(rows) == steps < 120  # stopped early: the loss exploded
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[0] == pytest.approx(1e-6) and all(b > a for a, b in itertools.pairwise(lrs))
    assert (tmp_path / "f" / "lr_find.png").stat().st_size > 10_000


def test_lr_find_rejects_a_bad_range(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(["lr-find", "--start-lr", "1", "--end-lr", "0.5", "--out", str(tmp_path)]) == 2
    assert "0 < start lr < end lr" in capsys.readouterr().err
