"""Sweeps: train one base config with one or two fields varied (a grid), each with several seeds,
then compare the runs: mean +/- std curves and a results table.

The course's comparisons (batch size, activation, width, depth, optimizer, learning rate,
initialization) are all sweeps: ``--vary batch_size=1,8,32``, ``--vary "hidden=16;16,16"``.
Values are separated by ``;``, or by ``,`` for fields whose values hold no comma (every field
except the list fields ``hidden`` and ``drop``, whose values are comma lists themselves).
Runs are independent, so ``jobs=2`` trains two at a time in separate processes (one torch
thread each).
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import torch

from looplab.config import Config, coerce, field_names
from looplab.errors import ConfigError, one_of
from looplab.loop.history import Row
from looplab.run.checks import checked

LIST_FIELDS = ("hidden", "drop")  # their values contain commas: separate values with ';'


@dataclass(frozen=True)
class Axis:
    """One varied field: its name, the parsed values and how each is written."""

    name: str
    values: tuple[object, ...]  # coerced like flags
    texts: tuple[str, ...]


def parse_vary(text: str) -> Axis:
    """``"batch_size=1,8,full"`` or ``"hidden=16;16,16"`` -> an :class:`Axis` (values coerced
    like flags, so a bad value gets the flag's one-line message)."""
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not values.strip():
        raise ConfigError(f"--vary needs FIELD=VALUES, got {text!r}; e.g. --vary batch_size=8,32")
    if name not in field_names():
        raise ConfigError(f"--vary: unknown config field {one_of(name, field_names())}")
    if name in ("out", "name", "seed"):
        raise ConfigError(f"--vary {name} is not a sweep: use --seeds N to repeat over seeds")
    separator = ";" if ";" in values or name in LIST_FIELDS else ","
    texts = tuple(part.strip() for part in values.split(separator) if part.strip())
    parsed = tuple(coerce(name, part) for part in texts)
    if len(set(map(str, parsed))) != len(parsed):
        raise ConfigError(f"--vary {name}: a value is repeated in {values!r}")
    return Axis(name, parsed, texts)


@dataclass(frozen=True)
class SweepPoint:
    """One run of the sweep: a grid cell (``values``, one per axis) with one seed."""

    cell: int  # index of the grid cell: runs of the same cell differ only by seed
    label: str  # e.g. "batch_size=8, lr=0.1"
    values: tuple[str, ...]
    seed: int
    config: Config


def sweep_points(base: Config, axes: Sequence[Axis], seeds: int = 1) -> list[SweepPoint]:
    """The grid of ``axes`` (one or two) times ``seeds`` seeds (base.seed, base.seed + 1, ...),
    each config validated before anything trains."""
    if not 1 <= len(axes) <= 2:
        raise ConfigError(f"a sweep varies one or two fields, got {len(axes)}; drop a --vary")
    if len({a.name for a in axes}) != len(axes):
        raise ConfigError(f"--vary {axes[0].name} is given twice; put all values in one --vary")
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    points = []
    cells = itertools.product(*[list(zip(a.values, a.texts, strict=True)) for a in axes])
    for cell, combo in enumerate(cells):
        changes = {a.name: value for a, (value, _) in zip(axes, combo, strict=True)}
        label = ", ".join(f"{a.name}={text}" for a, (_, text) in zip(axes, combo, strict=True))
        for k in range(seeds):
            config = checked(base.replace(**changes, seed=base.seed + k))
            points.append(SweepPoint(cell, label, tuple(t for _, t in combo), config.seed, config))
    return points


@dataclass
class RunOutcome:
    """What one run of a sweep left: its history rows, messages and wall-clock time."""

    point: SweepPoint
    rows: list[Row]
    seconds: float
    messages: list[str] = field(default_factory=list)
    task: str = "binary"


def run_point(point: SweepPoint, save_in: str | None = None) -> RunOutcome:
    """Train one point with the whole CLI pipeline (data, model, fit); with ``save_in``, also
    write its run directory there."""
    from looplab.pipeline import train

    config = point.config
    if save_in is not None:
        slug = "-".join(v.replace(",", "_").replace(" ", "") for v in point.values)
        config = config.replace(out=save_in, name=f"{slug}-seed{point.seed}")
    started = time.perf_counter()
    result = train(config, write=save_in is not None)
    seconds = time.perf_counter() - started
    return RunOutcome(
        point, result.history.to_dicts(), seconds, result.history.messages, result.data.task
    )


def _one_thread() -> None:
    torch.set_num_threads(1)  # two small models on two cores: one thread each


def _start_worker() -> None:
    """One thread, and the slow first imports done up front rather than inside the first
    run's timing (building the first torch.optim optimizer imports torch._dynamo: seconds)."""
    _one_thread()
    import torch._dynamo  # noqa: F401

    import looplab.pipeline  # noqa: F401


def run_sweep(
    points: Sequence[SweepPoint],
    jobs: int = 1,
    on_result: Callable[[RunOutcome], None] = lambda outcome: None,
    save_in: Path | None = None,
) -> list[RunOutcome]:
    """Run every point, ``jobs`` at a time (processes), calling ``on_result`` as each ends;
    outcomes come back in the order of ``points``."""
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    where = str(save_in) if save_in is not None else None
    outcomes: dict[int, RunOutcome] = {}
    if jobs == 1:
        threads = torch.get_num_threads()
        _start_worker()
        try:
            for i, point in enumerate(points):
                outcomes[i] = run_point(point, where)
                on_result(outcomes[i])
        finally:
            torch.set_num_threads(threads)
    else:
        # fork where there is one (Linux), as torch's DataLoader does: workers start at once
        # with everything imported; spawn elsewhere (a fresh interpreter per worker)
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker) as pool:
            futures = {pool.submit(run_point, p, where): i for i, p in enumerate(points)}
            for future in as_completed(futures):
                outcomes[futures[future]] = future.result()
                on_result(outcomes[futures[future]])
    return [outcomes[i] for i in range(len(points))]


@dataclass
class SweepResult:
    """A finished sweep: its axes, every run (grid order, seeds innermost) and one summary row
    per grid cell."""

    axes: list[Axis]
    outcomes: list[RunOutcome]
    summaries: list[CellSummary]


def sweep(
    base: Config,
    vary: Sequence[str],
    seeds: int = 1,
    jobs: int = 1,
    target: float = 0.9,
    on_result: Callable[[RunOutcome], None] = lambda outcome: None,
) -> SweepResult:
    """The Python face of ``looplab sweep``: ``sweep(Config(), ["batch_size=8,32"], seeds=3)``."""
    axes = [parse_vary(text) for text in vary]
    outcomes = run_sweep(sweep_points(base, axes, seeds), jobs, on_result)
    return SweepResult(axes, outcomes, summarize(outcomes, target))


# ---------------------------------------------------------------- the results table


def main_metric(outcome: RunOutcome) -> str:
    """The column a sweep compares: validation accuracy (or R^2), else the training one."""
    name = "r2" if outcome.task == "regression" else "accuracy"
    has_val = any(f"val_{name}" in row for row in outcome.rows)
    return f"val_{name}" if has_val else f"train_{name}"


@dataclass
class CellSummary:
    """One grid cell over its seeds: mean and std of the final metric, and the rest."""

    label: str
    values: tuple[str, ...]
    seeds: int
    metric: str
    final_mean: float
    final_std: float
    final_loss_mean: float
    best_epoch_mean: float  # epoch of the lowest validation (else training) loss
    epochs_to_target: float  # mean over the seeds that reached it; NaN if none did
    reached: int  # how many seeds reached the target
    seconds_mean: float


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(outcomes: Sequence[RunOutcome], target: float) -> list[CellSummary]:
    """One row per grid cell, in grid order."""
    cells: dict[int, list[RunOutcome]] = {}
    for outcome in outcomes:
        cells.setdefault(outcome.point.cell, []).append(outcome)
    rows = []
    for runs in cells.values():
        metric = main_metric(runs[0])
        loss = "val_loss" if metric.startswith("val_") else "train_loss"
        finals = [r.rows[-1].get(metric, math.nan) if r.rows else math.nan for r in runs]
        final_losses = [r.rows[-1].get(loss, math.nan) if r.rows else math.nan for r in runs]
        best = [
            min(r.rows, key=lambda row: _finite(row.get(loss)))["epoch"] for r in runs if r.rows
        ]
        reach = [
            next((row["epoch"] for row in r.rows if row.get(metric, -math.inf) >= target), None)
            for r in runs
        ]
        hit = [e for e in reach if e is not None]
        rows.append(
            CellSummary(
                runs[0].point.label,
                runs[0].point.values,
                len(runs),
                metric,
                statistics.fmean(finals),
                _std(finals),
                statistics.fmean(final_losses),
                statistics.fmean(best) if best else math.nan,
                statistics.fmean(hit) if hit else math.nan,
                len(hit),
                statistics.fmean(r.seconds for r in runs),
            )
        )
    return rows


def _finite(x: float | None) -> float:
    return x if x is not None and math.isfinite(x) else math.inf


def _g(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.4g}"


def table(
    summaries: Sequence[CellSummary], axes: Sequence[Axis], target: float, exact: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and text rows of the results table (the CSV, Markdown and HTML share them):
    numbers to 4 significant digits, or with ``exact`` every digit (for the CSV)."""
    g = repr if exact else _g
    metric = summaries[0].metric if summaries else "metric"
    short, split = metric.replace("accuracy", "acc"), metric.split("_")[0]
    header = [
        *(a.name for a in axes),
        "seeds",
        f"final {short}",
        "std",
        f"final {split}_loss",
        "best epoch",
        f"epochs to {short} >= {target:g}",
        "reached",
        "s per run",
    ]
    rows = [
        [
            *s.values,
            str(s.seeds),
            g(s.final_mean),
            g(s.final_std),
            g(s.final_loss_mean),
            g(s.best_epoch_mean),
            g(s.epochs_to_target),
            f"{s.reached}/{s.seeds}",
            g(s.seconds_mean),
        ]
        for s in summaries
    ]
    return header, rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table (``|`` in cells escaped)."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)]) + "\n"


__all__ = [
    "Axis",
    "CellSummary",
    "RunOutcome",
    "SweepPoint",
    "SweepResult",
    "main_metric",
    "markdown",
    "parse_vary",
    "run_point",
    "run_sweep",
    "summarize",
    "sweep",
    "sweep_points",
    "table",
]
