"""A large MLP memorizes a few noisy moons; each regularizer narrows the train/validation gap."""

from __future__ import annotations

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


def test_regularize_command_prints_one_row_per_remedy(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["regularize", "--epochs", "3", "--hidden", "8,8"]) == 0
    out = capsys.readouterr().out
    assert "MLP 8-8" in out and "gap (val" in out
    for first_word in ("none", "weight", "dropout", "early", "batch", "layer", "residual"):
        assert f"│ {first_word}" in out
