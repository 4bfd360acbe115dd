"""`looplab regularize --dataset mnist-5k`: every remedy over seeds, with mean and spread, a
table, a figure and the AdamW explanation; the statistics are those of the runs."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest

from looplab.cli import run
from looplab.experiments.image_regularization import (
    compare_image_remedies,
    image_config,
    image_remedies,
)


def test_seeds_give_mean_and_spread_of_the_runs() -> None:
    base = image_config(fast=True)
    remedies = {k: v for k, v in image_remedies(base.epochs).items() if k in ("none", "mixup 0.2")}
    results = compare_image_remedies(base, remedies, seeds=(0, 1))
    assert [r.name for r in results] == ["none", "mixup 0.2"]
    for r in results:
        accs = [run.val_accuracy for run in r.runs]
        assert len(set(accs)) == 2  # each seed is its own split and initialization
        assert r.val_accuracy == (statistics.fmean(accs), statistics.stdev(accs))
        gaps = [run.train_accuracy - run.val_accuracy for run in r.runs]
        assert r.accuracy_gap[0] == pytest.approx(statistics.fmean(gaps))


def test_regularize_on_images_writes_table_figure_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["regularize", "--dataset", "mnist-5k", "--fast", "--seeds", "1",
            "--out", str(tmp_path), "--name", "r"]  # fmt: skip
    assert run(args) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "r"
    assert (folder / "gap.png").stat().st_size > 10_000
    with open(folder / "results.csv") as f:
        rows = list(csv.DictReader(f))
    names = [row["remedy"] for row in rows]
    assert names == list(image_remedies(2))
    by_name = {row["remedy"]: row for row in rows}
    # the same coefficient, two different decays: Adam + L2 and AdamW end elsewhere
    assert by_name["Adam + L2 0.1"]["val loss (mean)"] != by_name["AdamW 0.1"]["val loss (mean)"]
    assert "Adam divides the whole gradient by its running size" in " ".join(out.split())
    assert "Adam + L2 vs AdamW" in (folder / "results.md").read_text()


def test_regularize_refuses_zero_seeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["regularize", "--dataset", "mnist-5k", "--seeds", "0", "--out", str(tmp_path)]
    assert run(args) == 2
    assert "--seeds must be a positive whole number, got 0" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
