"""`looplab schedule` draws a schedule; `train --schedule/--optimizer/--impl/--init` use them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from looplab.cli import run
from looplab.config import Config
from looplab.pipeline import train


def test_schedule_writes_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["schedule", "cosine", "--epochs", "50", "--out", str(tmp_path)])
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert code == 0
    png = tmp_path / "schedule-cosine.png"
    assert png.stat().st_size > 10_000 and f"plot: {png}" in out
    last = 0.1 * (1 + math.cos(math.pi * 49 / 50)) / 2
    assert f"last {last:.4g} over 50 updates" in out


def test_schedule_all_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schedule", "all", "--warmup", "3", "--epochs", "20", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "schedule-all.png").exists()
    assert " ".join(capsys.readouterr().out.split()).count(" over 20 updates") == 7
    assert run(["schedule", "cosin", "--out", str(tmp_path)]) == 2
    assert "unknown schedule 'cosin'" in capsys.readouterr().err
    assert run(["schedule", "step", "--warmup", "3", "--out", str(tmp_path)]) == 2
    assert "has no warm-up" in capsys.readouterr().err


def test_fit_with_scratch_optimizer_and_schedule_equals_torch() -> None:
    """`--optimizer adam --impl scratch --schedule cosine --warmup 2`: the same run as torch's."""
    config = Config(
        n=200, epochs=6, optimizer="adam", schedule="cosine", warmup=2, weight_decay=1e-3
    )
    theirs = train(config, write=False).history
    mine = train(config.replace(impl="scratch"), write=False).history
    for a, b in zip(theirs, mine, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["lr"] == pytest.approx(a["lr"], rel=1e-12)
    lrs = [row["lr"] for row in theirs]
    assert lrs[0] < lrs[1] and lrs[1] > lrs[-1]  # a ramp (per update), then the decay


def test_plateau_in_fit_watches_validation_loss() -> None:
    """A learning rate too small to improve the loss: plateau cuts it after 5 flat epochs."""
    config = Config(n=200, epochs=12, optimizer="sgd", lr=1e-7, schedule="plateau")
    for impl in ("torch", "scratch"):
        lrs = [row["lr"] for row in train(config.replace(impl=impl), write=False).history]
        assert lrs[:7] == [1e-7] * 7 and lrs[7] == pytest.approx(1e-8)


def test_train_cli_takes_init_optimizer_impl_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "train",
        "--epochs",
        "3",
        "--n",
        "200",
        "--init",
        "kaiming_normal",
        "--optimizer",
        "nesterov",
        "--impl",
        "scratch",
        "--schedule",
        "one_cycle",
        "--out",
        str(tmp_path),
    ]
    assert run(args) == 0, capsys.readouterr().err
    assert run(["train", "--init", "he", "--out", str(tmp_path)]) == 2
    assert "unknown init 'he'" in capsys.readouterr().err
