"""Sweeps: train one base config with one or two fields varied (a grid), each with several seeds,
then compare the runs: mean +/- std curves and a results table.

The course's comparisons (batch size, activation, width, depth, optimizer, learning rate,
initialization) are all sweeps: ``--vary batch_size=1,8,32``, ``--vary "hidden=16;16,16"``.
Values are separated by ``;``, or by ``,`` for fields whose values hold no comma (every field
except the list fields ``hidden`` and ``drop``, whose values are comma lists themselves).
Runs are independent, so ``jobs=2`` trains two at a time in separate processes (one torch
thread each). A signal stops a sweep at once: the workers are terminated (and die with the
parent whatever happens to it), the run in progress is dropped, and every finished run has
already been handed to ``on_result`` (the CLI saves each one as it comes:
:mod:`looplab.experiments.sweep_store`), so ``looplab sweep --resume`` runs only the rest.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import math
import multiprocessing
import os
import re
import signal
import statistics
import sys
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import torch

from looplab.config import SEED_MAX, Config, coerce, field_names
from looplab.errors import ConfigError, LooplabError, one_of
from looplab.loop.history import Row
from looplab.run.checks import checked
from looplab.watch.interrupt import Interrupted, SignalCatcher, StopOnSignal

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
    if not texts:
        raise ConfigError(f"--vary {name} has no values in {text!r}; e.g. --vary {name}=A,B")
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
    index: int = 0  # position in the sweep's list of points: the name of its result file


def sweep_points(base: Config, axes: Sequence[Axis], seeds: int = 1) -> list[SweepPoint]:
    """The grid of ``axes`` (one or two) times ``seeds`` seeds (base.seed, base.seed + 1, ...),
    each config validated before anything trains."""
    if not 1 <= len(axes) <= 2:
        raise ConfigError(f"a sweep varies one or two fields, got {len(axes)}; drop a --vary")
    if len({a.name for a in axes}) != len(axes):
        raise ConfigError(f"--vary {axes[0].name} is given twice; put all values in one --vary")
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    if base.seed + seeds - 1 > SEED_MAX:
        raise ConfigError(f"--seed + --seeds - 1 must be at most {SEED_MAX}; use fewer seeds")
    points: list[SweepPoint] = []
    cells = itertools.product(*[list(zip(a.values, a.texts, strict=True)) for a in axes])
    for cell, combo in enumerate(cells):
        changes = {a.name: value for a, (value, _) in zip(axes, combo, strict=True)}
        label = ", ".join(f"{a.name}={text}" for a, (_, text) in zip(axes, combo, strict=True))
        for k in range(seeds):
            config = checked(base.replace(**changes, seed=base.seed + k))
            values = tuple(t for _, t in combo)
            points.append(SweepPoint(cell, label, values, config.seed, config, len(points)))
    return points


def check_points(points: Sequence[SweepPoint]) -> None:
    """Every point checked with its data before any trains (batch norm on a one-row batch,
    a batch larger than the data, values beyond float32...): a sweep refuses up front rather
    than fail at its seventh run. Each dataset is read once (synthetic ones once per seed)."""
    from looplab.data.prepared import prepare
    from looplab.data.registry import DATASETS, load_dataset
    from looplab.data.task_data import TaskData
    from looplab.run.build import check_fits_data

    loaded: dict[tuple[object, ...], TaskData] = {}
    for point in points:
        c = point.config
        synthetic = c.dataset in DATASETS and DATASETS[c.dataset].default_n is not None
        key = (c.dataset, c.n, c.noise, c.target, tuple(c.drop), c.impute, c.task,
               c.seed if synthetic else None)  # fmt: skip
        if key not in loaded:
            loaded[key] = load_dataset(
                c.dataset, n=c.n, noise=c.noise, seed=c.seed, target=c.target, drop=c.drop,
                impute=c.impute, task=c.task,
            )  # fmt: skip
        check_fits_data(c, prepare(loaded[key], c))


@dataclass
class RunOutcome:
    """What one run of a sweep left: its history rows, messages and wall-clock time."""

    point: SweepPoint
    rows: list[Row]
    seconds: float
    messages: list[str] = field(default_factory=list)
    task: str = "binary"
    error: str = ""  # the one-line error of a run that failed (it diverged): no rows then


def run_point(
    point: SweepPoint, save_in: str | None = None, signals: SignalCatcher | None = None
) -> RunOutcome:
    """Train one point with the whole CLI pipeline (data, model, fit); with ``save_in``, also
    write its run directory there. A run that fails on the user's account (it diverged) is an
    outcome with its ``error``, not the end of the sweep. With ``signals``, a caught signal
    stops it at the next step (:class:`Interrupted`)."""
    from looplab.pipeline import train

    config = point.config
    if save_in is not None:
        slug = "-".join(v.replace(",", "_").replace(" ", "") for v in point.values)
        slug = re.sub(r"[^A-Za-z0-9_.=+-]+", "_", slug)[:200]  # one directory name, always
        config = config.replace(out=save_in, name=f"{slug}-seed{point.seed}")
    started = time.perf_counter()
    callbacks = [StopOnSignal(signals)] if signals is not None else []
    try:
        result = train(config, callbacks, write=save_in is not None)
    except LooplabError as exc:
        return RunOutcome(point, [], time.perf_counter() - started, error=str(exc))
    seconds = time.perf_counter() - started
    return RunOutcome(
        point, result.history.to_dicts(), seconds, result.history.messages, result.data.task
    )


def _one_thread() -> None:
    torch.set_num_threads(1)  # two small models on two cores: one thread each


def _imports() -> None:
    """The slow first imports done up front rather than inside the first run's timing."""
    import looplab.pipeline  # noqa: F401


def _start_worker() -> None:
    """A worker process: one thread, the imports, and signals left to the parent. Ctrl-C
    reaches the whole process group, but only the parent decides (it terminates the workers
    with SIGTERM, whose default action ends them at once); and a worker dies with its parent,
    so none is left behind whatever happens to the parent (Linux: PR_SET_PDEATHSIG)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() == 1:  # the parent died before the line above: go too
                os._exit(1)
    _one_thread()
    _imports()


def max_jobs() -> int:
    """At most two worker processes per core: more only share the cores and the memory."""
    return 2 * (os.cpu_count() or 1)


def run_sweep(
    points: Sequence[SweepPoint],
    jobs: int = 1,
    on_result: Callable[[RunOutcome], None] = lambda outcome: None,
    save_in: Path | None = None,
    signals: SignalCatcher | None = None,
    done: Collection[int] = (),
) -> list[RunOutcome]:
    """Run every point whose index is not in ``done``, ``jobs`` at a time (processes), calling
    ``on_result`` as each ends; return the new outcomes in the order of ``points``. With
    ``signals``, a caught signal stops the sweep within a step: the workers are terminated and
    :class:`Interrupted` is raised (every finished run has been given to ``on_result``)."""
    if not 1 <= jobs <= max_jobs():
        raise ConfigError(
            f"--jobs must be from 1 to {max_jobs()} (two per core on this machine), got {jobs}"
        )
    where = str(save_in) if save_in is not None else None
    todo = [p for p in points if p.index not in done]
    outcomes: dict[int, RunOutcome] = {}
    if jobs == 1 or len(todo) <= 1:
        threads = torch.get_num_threads()
        _one_thread()
        _imports()
        try:
            for point in todo:
                outcomes[point.index] = run_point(point, where, signals)
                on_result(outcomes[point.index])
        finally:
            torch.set_num_threads(threads)
    else:
        _run_in_workers(todo, jobs, where, signals, outcomes, on_result)
    return [outcomes[p.index] for p in todo]


def _run_in_workers(
    todo: Sequence[SweepPoint],
    jobs: int,
    where: str | None,
    signals: SignalCatcher | None,
    outcomes: dict[int, RunOutcome],
    on_result: Callable[[RunOutcome], None],
) -> None:
    """``todo`` in ``jobs`` worker processes; on a signal or an error, terminate them all."""
    # fork where there is one (Linux), as torch's DataLoader does: workers start at once
    # with everything imported; spawn elsewhere (a fresh interpreter per worker)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(min(jobs, len(todo)), mp_context=context, initializer=_start_worker)
    finished = False
    try:
        pending: dict[Future[RunOutcome], int] = {
            pool.submit(run_point, p, where): p.index for p in todo
        }
        while pending:
            ready, _ = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
            for future in ready:
                outcomes[pending.pop(future)] = outcome = future.result()
                on_result(outcome)
            if signals is not None and signals.signum is not None:
                raise Interrupted(signals.signum)
        finished = True
    finally:
        if not finished:  # a signal or an error: stop every worker now, not after its run
            for process in list(pool._processes.values()):
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


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
    trained = next((o for o in outcomes if o.rows), outcomes[0] if outcomes else None)
    for runs in cells.values():
        metric = main_metric(trained or runs[0])  # one metric for every cell, failed ones too
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
