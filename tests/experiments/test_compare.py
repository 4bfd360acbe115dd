"""Batch-size comparison: same start, per-update recording, and the course's noise claim."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import pytest

from looplab.config import Config
from looplab.errors import ConfigError
from looplab.experiments.compare import Comparison, compare_batch_sizes, parse_batch_sizes
from looplab.plots.compare import compare_figure

CONFIG = Config(dataset="linear", model="linear", optimizer="sgd", lr=0.05, epochs=4)


@pytest.fixture(scope="module")
def result() -> Comparison:
    return compare_batch_sizes(CONFIG, [1, 16, "full"], seeds=2)


def test_batch_1_is_noisier_than_batch_16(result: Comparison) -> None:
    """The course's observation, measured: the std of the last epoch's per-update losses."""
    one, sixteen = (statistics.fmean(r.noise for r in result.of(b)) for b in (1, 16))
    assert one > 2 * sixteen > 0
    assert all(math.isnan(r.noise) for r in result.of("full"))  # one update: no spread


def test_every_run_of_a_seed_starts_from_the_same_weights(result: Comparison) -> None:
    for seed in result.seeds:
        starts = {r.epoch_loss[0] for r in result.runs if r.seed == seed}
        assert len(starts) == 1
    assert result.runs[0].epoch_loss[0] != result.runs[-1].epoch_loss[0]  # seeds differ


def test_updates_are_recorded_once_per_step(result: Comparison) -> None:
    rows = result.train_rows  # 160 of linear's 200 rows
    for r in result.runs:
        per = {1: rows, 16: rows // 16, "full": 1}[r.batch_size]
        assert r.updates_per_epoch == per
        assert len(r.update_loss) == per * CONFIG.epochs
        assert len(r.epoch_loss) == CONFIG.epochs + 1
    # batch 16 divides 160: the mean of an epoch's update losses is fit's own train_loss
    r16 = result.of(16)[0]
    for epoch, row in enumerate(r16.history, start=0):
        chunk = r16.update_loss[epoch * 10 : (epoch + 1) * 10]
        assert statistics.fmean(chunk) == pytest.approx(row["train_loss"], rel=1e-5)


def test_more_updates_learn_faster_per_epoch(result: Comparison) -> None:
    """After 4 epochs, SGD with batch 16 (40 updates) is far ahead of full batch (4 updates)."""
    summary = {row["batch_size"]: row for row in result.summary()}
    assert float(summary["16"]["final_loss"]) < 0.2 * float(summary["full"]["final_loss"])


def test_csv_and_figure(result: Comparison, tmp_path: Path) -> None:
    curves, summary = result.write_csv(tmp_path)
    rows = list(csv.DictReader(curves.open()))
    updates = [
        r for r in rows if r["batch_size"] == "1" and r["seed"] == "0" and r["curve"] == "update"
    ]
    assert [float(r["loss"]) for r in updates] == result.of(1)[0].update_loss
    table = list(csv.DictReader(summary.open()))
    assert [r["batch_size"] for r in table] == ["1", "16", "full"]
    fig = compare_figure(result)
    left, right = fig.axes
    assert left.get_xlabel().startswith("epoch") and right.get_xscale() == "log"
    legend = left.get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [
        "batch 1 (160 updates/epoch)",
        "batch 16 (10 updates/epoch)",
        "full batch (1 update/epoch)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("1,x", "got 'x'"), ("0", "got '0'"), ("", "no batch sizes"), ("8,8", "repeat")],
)
def test_bad_batch_sizes(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_batch_sizes(text)


def test_parse_batch_sizes() -> None:
    assert parse_batch_sizes("1, 8,32,FULL") == [1, 8, 32, "full"]
