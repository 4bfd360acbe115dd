"""Full batch vs stochastic vs mini-batch: the same model, data and seed trained with several
batch sizes, recording the loss of every update and of the whole training split per epoch.

Every run of a seed starts from the same initial weights and shuffles with the same seed, so
the batch size is the only difference. A small batch makes many cheap, noisy updates; the full
batch makes one exact update per epoch. The *noise* of a run is the standard deviation of its
per-update losses over the last epoch (undefined with one update per epoch: full batch).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torch import Tensor

from looplab.config import SEED_MAX, Config
from looplab.data.batches import make_batches
from looplab.data.prepared import PreparedData, load_prepared
from looplab.data.split import Split
from looplab.errors import ConfigError
from looplab.files import write_atomic
from looplab.loop.events import Callback
from looplab.loop.history import History
from looplab.loop.metrics import evaluate
from looplab.loop.state import LoopState
from looplab.models.init import init_model
from looplab.models.mlp import build_model
from looplab.run.build import check_fits_data, model_spec
from looplab.run.fit import fit

BatchSize = int | str  # a number of rows, or "full"

# What `looplab compare` trains unless told otherwise: the course's linear-regression toy with
# plain SGD, where the effect of the batch size is easiest to see.
COMPARE_DEFAULTS: dict[str, object] = {
    "dataset": "linear",
    "model": "linear",
    "optimizer": "sgd",
    "lr": 0.05,
    "epochs": 20,
}


def parse_batch_sizes(text: str) -> list[BatchSize]:
    """``"1,8,32,full"`` -> ``[1, 8, 32, "full"]``; a ConfigError for anything else."""
    sizes: list[BatchSize] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if part == "full":
            sizes.append("full")
        elif part.isdigit() and int(part) > 0:
            sizes.append(int(part))
        else:
            raise ConfigError(
                f"batch sizes must be positive whole numbers or 'full', got {part!r} "
                f"(e.g. --batch-sizes 1,8,32,full)"
            )
    if not sizes:
        raise ConfigError("no batch sizes given; e.g. --batch-sizes 1,8,32,full")
    if len(set(sizes)) != len(sizes):
        raise ConfigError(f"batch sizes repeat in {text!r}; give each one once")
    return sizes


class LossRecorder(Callback):
    """The loss of every update (the mini-batch's mean loss) and the loss of the whole training
    split before training and after each epoch; ``seconds`` is the time spent recording."""

    def __init__(self, train: PreparedData) -> None:
        self.train = make_batches(train.train, "full", shuffle=False)
        self.update_loss: list[float] = []
        self.epoch_loss: list[float] = []
        self.seconds = 0.0

    def on_fit_start(self, state: LoopState) -> None:
        self._record_epoch(state)

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        self.update_loss.append(loss.item())

    def on_epoch_end(self, state: LoopState, epoch: int, row: dict[str, float]) -> None:
        self._record_epoch(state)

    def _record_epoch(self, state: LoopState) -> None:
        started = time.perf_counter()
        result = evaluate(state.model, self.train, state.loss_fn, state.task, state.device)
        self.epoch_loss.append(result["loss"])
        self.seconds += time.perf_counter() - started


@dataclass
class RunCurves:
    """One run: a batch size and a seed."""

    batch_size: BatchSize
    seed: int
    updates_per_epoch: int
    epoch_loss: list[float]  # whole training split: before training, then after each epoch
    update_loss: list[float]  # the batch's loss at every update, in order
    seconds: float  # wall time of training, without the recording
    history: History = field(repr=False, default_factory=History)

    @property
    def label(self) -> str:
        return "full batch" if self.batch_size == "full" else f"batch {self.batch_size}"

    @property
    def final_loss(self) -> float:
        return self.epoch_loss[-1]

    @property
    def diverged_at(self) -> int | None:
        """The first update whose loss was not finite (1-based); None if every one was."""
        return next((i for i, v in enumerate(self.update_loss, 1) if not math.isfinite(v)), None)

    @property
    def noise(self) -> float:
        """Std of the per-update losses in the last epoch (NaN with one update per epoch, or
        when the run diverged)."""
        last = self.update_loss[-self.updates_per_epoch :]
        return _std(last) if len(last) > 1 else math.nan


@dataclass
class Comparison:
    """Every run of a comparison, in order: for each seed, each batch size."""

    config: Config
    batch_sizes: list[BatchSize]
    seeds: list[int]
    runs: list[RunCurves]
    train_rows: int

    def of(self, batch_size: BatchSize) -> list[RunCurves]:
        """The runs (one per seed) of one batch size."""
        return [r for r in self.runs if r.batch_size == batch_size]

    def summary(self) -> list[dict[str, float | str]]:
        """One row per batch size: updates per epoch, mean wall time, final loss (mean, std
        across seeds) and mean last-epoch noise."""
        rows: list[dict[str, float | str]] = []
        for size in self.batch_sizes:
            runs = self.of(size)
            if not runs:  # interrupted before this size's first run
                continue
            finals = [r.final_loss for r in runs]
            rows.append(
                {
                    "batch_size": str(size),
                    "updates_per_epoch": float(runs[0].updates_per_epoch),
                    "seconds": statistics.fmean(r.seconds for r in runs),
                    "final_loss": statistics.fmean(finals),
                    "final_loss_std": _std(finals) if len(finals) > 1 else 0.0,
                    "noise": statistics.fmean(r.noise for r in runs),
                }
            )
        return rows

    def write_csv(self, directory: Path) -> tuple[Path, Path]:
        """``curves.csv`` (one row per recorded loss) and ``summary.csv`` (one per batch size)."""
        curves, summary = directory / "curves.csv", directory / "summary.csv"
        out = io.StringIO(newline="")  # written atomically: rewritten after every run
        writer = csv.writer(out)
        writer.writerow(["batch_size", "seed", "curve", "x", "loss"])
        for r in self.runs:
            for i, loss in enumerate(r.epoch_loss):
                writer.writerow([r.batch_size, r.seed, "epoch", i, repr(loss)])
            for i, loss in enumerate(r.update_loss, start=1):
                writer.writerow([r.batch_size, r.seed, "update", i, repr(loss)])
        write_atomic(curves, out.getvalue().encode())
        rows = self.summary()
        fields = list(rows[0]) if rows else ["batch_size"]
        text = io.StringIO(newline="")
        dict_writer = csv.DictWriter(text, fieldnames=fields)
        dict_writer.writeheader()
        dict_writer.writerows(rows)
        write_atomic(summary, text.getvalue().encode())
        return curves, summary

    def finished(self) -> Comparison:
        """The comparison of the runs done so far (an interrupted one keeps these)."""
        sizes = [s for s in self.batch_sizes if self.of(s)]
        seeds = sorted({r.seed for r in self.runs})
        return Comparison(self.config, sizes, seeds, list(self.runs), self.train_rows)


def _std(values: Sequence[float]) -> float:
    """The sample std, NaN when a value is not finite (a diverged run) or too large to square."""
    if not all(math.isfinite(v) for v in values):
        return math.nan
    try:
        return statistics.stdev(values)
    except (OverflowError, AttributeError):  # AttributeError: CPython's stdev on huge floats
        return math.nan


def compare_data(config: Config, batch_sizes: Sequence[BatchSize]) -> PreparedData:
    """The data of a comparison, checked against the batch sizes (ConfigError before any run)."""
    config.validate()
    data = load_prepared(config)
    if not isinstance(data.train, Split):
        raise ConfigError("compare needs an in-memory dataset (a built-in one or csv:PATH)")
    rows = len(data.train)
    for size in batch_sizes:
        if size != "full" and int(size) > rows:
            raise ConfigError(
                f"batch size {size} is larger than the training split ({rows} rows); "
                f"use {rows} or less, or full"
            )
        check_fits_data(config.replace(batch_size=size), data)  # batch norm, data, memory...
    return data


def check_seeds(config: Config, seeds: int) -> None:
    """``seeds`` runs per batch size, seeds ``config.seed`` to ``config.seed + seeds - 1``."""
    if seeds < 1:
        raise ConfigError(f"seeds must be a positive whole number, got {seeds!r}")
    if config.seed + seeds - 1 > SEED_MAX:
        raise ConfigError(f"--seed + --seeds - 1 must be at most {SEED_MAX}; use fewer seeds")


def compare_batch_sizes(
    config: Config,
    batch_sizes: Sequence[BatchSize],
    seeds: int = 1,
    on_run: Callable[[RunCurves], None] = lambda run: None,
    data: PreparedData | None = None,
    callbacks: Sequence[Callback] = (),
) -> Comparison:
    """Train ``config`` once per batch size and seed (``config.seed``, ``config.seed + 1``...),
    every run of a seed from the same initial weights; ``on_run`` hears each finished run.
    ``data`` is :func:`compare_data`'s (loaded here when not given); ``callbacks`` go to every
    run (the CLI's signal check)."""
    check_seeds(config, seeds)
    data = data if data is not None else compare_data(config, batch_sizes)
    assert isinstance(data.train, Split)  # compare_data checked it
    spec = model_spec(config, data)
    seed_list = [config.seed + k for k in range(seeds)]
    runs = []
    for seed in seed_list:
        start = build_model(spec, seed=seed)
        init_model(start, config.init, config.init_scale, seed=seed)
        weights = {k: v.clone() for k, v in start.state_dict().items()}
        for size in batch_sizes:
            model = build_model(spec, seed=seed)
            model.load_state_dict(weights)  # the same start for every batch size
            recorder = LossRecorder(data)
            started = time.perf_counter()
            run_config = config.replace(batch_size=size, seed=seed)
            history = fit(model, data, run_config, [recorder, *callbacks])
            seconds = time.perf_counter() - started - recorder.seconds
            updates = len(recorder.update_loss) // max(len(history), 1)
            run = RunCurves(
                size, seed, updates, recorder.epoch_loss, recorder.update_loss, seconds, history
            )
            runs.append(run)
            on_run(run)
    return Comparison(config, list(batch_sizes), seed_list, runs, len(data.train))
