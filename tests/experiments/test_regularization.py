"""A large MLP memorizes a few noisy moons; each regularizer narrows the train/validation gap."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from looplab.cli import run
from looplab.experiments.regularization import REMEDIES, compare_remedies, overfit_config


def test_each_remedy_narrows_the_gap_of_an_overfitting_mlp() -> None:
    remedies = {
        name: REMEDIES[name]
        for name in (
            "none",
            "weight decay 1e-2",
            "dropout 0.3",
            "early stopping (patience 20)",
            "batch norm",
        )
    }
    results = {r.name: r for r in compare_remedies(overfit_config(epochs=150), remedies)}
    plain = results.pop("none")
    assert plain.train_loss < 0.05 and plain.train_accuracy >= 0.98  # memorized 60 points
    assert plain.gap > 1.0  # and pays for it on the other 60
    for name, r in results.items():
        assert r.gap < 0.5 * plain.gap, (name, r.gap, plain.gap)
        assert r.val_loss < plain.val_loss, name
    assert results["early stopping (patience 20)"].epochs < 150  # it stopped, best restored


def test_regularize_writes_its_figure_and_table_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["regularize", "--epochs", "3", "--hidden", "8,8", "--out", str(tmp_path)]
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "MLP 8-8" in out and "gap (val" in out
    for first_word in ("none", "weight", "dropout", "early", "batch", "layer", "residual"):
        assert f"│ {first_word}" in out
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith("regularize-") and f"saved in {folder}" in out
    assert (folder / "gap.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((folder / "results.csv").open()))
    assert [r["remedy"] for r in rows] == list(REMEDIES)
    for r in rows:  # the gap column is val - train, unrounded
        assert float(r["gap (val - train)"]) == pytest.approx(
            float(r["val loss"]) - float(r["train loss"]), rel=1e-9
        )
    md = (folder / "results.md").read_text()
    assert md.count("\n| ") == len(REMEDIES) + 2  # header, rule, one row per remedy
