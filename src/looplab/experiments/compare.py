"""Full batch vs stochastic vs mini-batch: the same model, data and seed trained with several
batch sizes, recording the loss of every update and of the whole training split per epoch.

Every run of a seed starts from the same initial weights and shuffles with the same seed, so
the batch size is the only difference. A small batch makes many cheap, noisy updates; the full
batch makes one exact update per epoch. The *noise* of a run is the standard deviation of its
per-update losses over the last epoch (undefined with one update per epoch: full batch).
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torch import Tensor

from looplab.config import Config
from looplab.data.batches import make_batches
from looplab.data.prepared import PreparedData, load_prepared
from looplab.data.split import Split
from looplab.errors import ConfigError
from looplab.loop.events import Callback
from looplab.loop.history import History
from looplab.loop.metrics import evaluate
from looplab.loop.state import LoopState
from looplab.models.init import init_model
from looplab.models.mlp import build_model
from looplab.run.build import model_spec
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
    def noise(self) -> float:
        """Std of the per-update losses in the last epoch (NaN with one update per epoch)."""
        last = self.update_loss[-self.updates_per_epoch :]
        return statistics.stdev(last) if len(last) > 1 else math.nan


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
            finals = [r.final_loss for r in runs]
            rows.append(
                {
                    "batch_size": str(size),
                    "updates_per_epoch": float(runs[0].updates_per_epoch),
                    "seconds": statistics.fmean(r.seconds for r in runs),
                    "final_loss": statistics.fmean(finals),
                    "final_loss_std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
                    "noise": statistics.fmean(r.noise for r in runs),
                }
            )
        return rows

    def write_csv(self, directory: Path) -> tuple[Path, Path]:
        """``curves.csv`` (one row per recorded loss) and ``summary.csv`` (one per batch size)."""
        curves, summary = directory / "curves.csv", directory / "summary.csv"
        with curves.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["batch_size", "seed", "curve", "x", "loss"])
            for r in self.runs:
                for i, loss in enumerate(r.epoch_loss):
                    writer.writerow([r.batch_size, r.seed, "epoch", i, repr(loss)])
                for i, loss in enumerate(r.update_loss, start=1):
                    writer.writerow([r.batch_size, r.seed, "update", i, repr(loss)])
        rows = self.summary()
        with summary.open("w", newline="") as f:
            dict_writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            dict_writer.writeheader()
            dict_writer.writerows(rows)
        return curves, summary


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
    return data


def compare_batch_sizes(
    config: Config,
    batch_sizes: Sequence[BatchSize],
    seeds: int = 1,
    on_run: Callable[[RunCurves], None] = lambda run: None,
    data: PreparedData | None = None,
) -> Comparison:
    """Train ``config`` once per batch size and seed (``config.seed``, ``config.seed + 1``...),
    every run of a seed from the same initial weights; ``on_run`` hears each finished run.
    ``data`` is :func:`compare_data`'s (loaded here when not given)."""
    if seeds < 1:
        raise ConfigError(f"seeds must be a positive whole number, got {seeds!r}")
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
            history = fit(model, data, config.replace(batch_size=size, seed=seed), [recorder])
            seconds = time.perf_counter() - started - recorder.seconds
            updates = len(recorder.update_loss) // max(len(history), 1)
            run = RunCurves(
                size, seed, updates, recorder.epoch_loss, recorder.update_loss, seconds, history
            )
            runs.append(run)
            on_run(run)
    return Comparison(config, list(batch_sizes), seed_list, runs, len(data.train))
