"""Sweeps: parsing --vary, the grid over seeds, the summary numbers, and --jobs 2."""

from __future__ import annotations

import math

import pytest

from looplab.config import Config
from looplab.errors import ConfigError
from looplab.experiments.sweep import (
    RunOutcome,
    SweepPoint,
    parse_vary,
    run_sweep,
    summarize,
    sweep,
    sweep_points,
)
from looplab.pipeline import train


def test_parse_vary_coerces_values_and_lists_take_semicolons() -> None:
    assert parse_vary("batch_size=1,8,full").values == (1, 8, "full")
    assert parse_vary("lr=0.01;0.1").values == (0.01, 0.1)
    hidden = parse_vary("hidden=16;16,16;16,16,16")
    assert hidden.values == ([16], [16, 16], [16, 16, 16])
    assert hidden.texts == ("16", "16,16", "16,16,16")
    assert parse_vary("hidden=32,32").values == ([32, 32],)  # one value: a comma stays inside
    assert parse_vary("activation=relu,tanh").values == ("relu", "tanh")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("batch_size", "--vary needs FIELD=VALUES"),
        ("bach_size=1,2", "unknown config field 'bach_size'"),
        ("lr=0.1,fast", "lr must be a number, got 'fast'"),
        ("seed=1,2", "use --seeds N"),
        ("lr=0.1,0.1", "a value is repeated"),
    ],
)
def test_parse_vary_errors_name_the_fix(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_vary(text)


def test_points_are_the_grid_times_the_seeds_and_are_validated() -> None:
    base = Config(epochs=2, seed=5)
    points = sweep_points(base, [parse_vary("batch_size=8,32"), parse_vary("lr=0.01,0.1,1")], 2)
    assert len(points) == 2 * 3 * 2
    assert [p.seed for p in points[:4]] == [5, 6, 5, 6]
    assert points[2].label == "batch_size=8, lr=0.1" and points[2].config.lr == 0.1
    assert {p.cell for p in points} == set(range(6))
    assert points[-1].config.batch_size == 32 and points[-1].config.epochs == 2
    with pytest.raises(ConfigError, match="unknown activation 'relux'"):
        sweep_points(base, [parse_vary("activation=relu,relux")])
    three = [parse_vary("lr=1"), parse_vary("epochs=1"), parse_vary("batch_size=4")]
    with pytest.raises(ConfigError, match="one or two fields"):
        sweep_points(base, three)


def _outcome(cell: int, seed: int, accuracies: list[float], losses: list[float]) -> RunOutcome:
    point = SweepPoint(cell, f"lr={cell}", (str(cell),), seed, Config())
    rows = [
        {"epoch": float(i + 1), "val_accuracy": a, "val_loss": lo}
        for i, (a, lo) in enumerate(zip(accuracies, losses, strict=True))
    ]
    return RunOutcome(point, rows, seconds=2.0 + seed, task="binary")


def test_summary_numbers_by_hand() -> None:
    outcomes = [
        _outcome(0, 0, [0.5, 0.8, 0.9, 0.85], [0.9, 0.5, 0.3, 0.4]),
        _outcome(0, 1, [0.6, 0.95, 0.95, 0.95], [0.8, 0.2, 0.25, 0.3]),
        _outcome(1, 0, [0.5, 0.6, 0.7, 0.7], [0.9, 0.8, 0.7, 0.6]),
    ]
    first, second = summarize(outcomes, target=0.9)
    assert first.final_mean == pytest.approx(0.9) and first.final_std == pytest.approx(0.0707107)
    assert first.best_epoch_mean == pytest.approx((3 + 2) / 2)
    assert first.epochs_to_target == pytest.approx((3 + 2) / 2) and first.reached == 2
    assert first.seconds_mean == pytest.approx(2.5) and first.metric == "val_accuracy"
    assert math.isnan(second.epochs_to_target) and second.reached == 0
    assert second.final_std == 0.0 and second.best_epoch_mean == 4


def test_two_jobs_give_the_same_histories_as_one() -> None:
    base = Config(epochs=3, n=120, hidden=[8])
    points = sweep_points(base, [parse_vary("batch_size=16,full")])
    seen: list[str] = []
    result = sweep(base, ["batch_size=16,full"])  # the Python API: jobs=1 by default
    serial = result.outcomes
    assert [s.label for s in result.summaries] == ["batch_size=16", "batch_size=full"]
    parallel = run_sweep(points, jobs=2, on_result=lambda o: seen.append(o.point.label))
    assert sorted(seen) == ["batch_size=16", "batch_size=full"]
    for a, b in zip(serial, parallel, strict=True):
        assert _untimed(a.rows) == _untimed(b.rows)
    # and each equals a plain training run of that config
    alone = train(points[1].config, write=False).history.without_timing()
    assert alone == _untimed(serial[1].rows)


def _untimed(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in r.items() if k not in ("time_s", "samples_per_s")} for r in rows]
