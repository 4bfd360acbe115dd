"""From a config to the things the loop is given: device, threads, seeds, engine, batches,
optimizer and schedule, each chosen by name.

Global side effects happen here and only here: :func:`seed_everything` seeds python's, numpy's
and torch's global generators (they stay seeded). The thread count is chosen here
(:mod:`looplab.run.threads`) but set only while the loop runs (``run.fit`` restores it).
"""

from __future__ import annotations

import random
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from looplab.config import Config
from looplab.data.batches import make_batches
from looplab.data.prepared import PreparedData
from looplab.data.split import Split
from looplab.errors import ConfigError
from looplab.loop.protocols import BatchSource, LossFn, Optimizer
from looplab.manual.engine import ManualModel, manual_engine
from looplab.models.losses import TaskLoss
from looplab.models.mlp import ModelSpec, parameter_count
from looplab.resources import check_memory
from looplab.run.checks import checked
from looplab.run.data_checks import check_data, check_model_fits
from looplab.run.optimizers import build_optimizer
from looplab.run.schedules import LoopSchedule, PlateauSchedule, build_scheduler
from looplab.run.threads import auto_threads

VAL_BATCH = 4096  # rows per validation batch: no gradients are kept, so large is cheap
# Bytes per parameter to train: float32 weights, gradients, two optimizer moments, and the
# copies a checkpoint and the divergence guard make, with room to spare.
TRAIN_BYTES_PER_PARAMETER = 32


@dataclass
class Built:
    """What ``looplab.loop.fit`` is given for a config: ``model`` is what the loop calls (the
    manual engine's wrapper of the same layers, under ``engine = "manual"``)."""

    model: nn.Module
    loss_fn: LossFn
    optimizer: Optimizer
    scheduler: LoopSchedule | PlateauSchedule | None
    train: BatchSource
    val: BatchSource | None
    device: torch.device
    threads: int  # torch CPU threads while training: config.threads, or chosen when 0

    def one_blas_thread(self) -> AbstractContextManager[object]:
        """Numpy's BLAS on one thread while the manual engine trains (once around the loop,
        not twice a step); nothing for autograd."""
        if isinstance(self.model, ManualModel):
            return self.model.engine.one_thread
        return nullcontext()


def model_spec(config: Config, data: PreparedData) -> ModelSpec:
    """The model a config asks for, sized to the data: inputs = features, outputs = classes."""
    return ModelSpec(
        in_features=data.n_features,
        out_features=data.n_outputs,
        hidden=tuple(config.hidden) if config.model == "mlp" else (),
        activation=config.activation,
        dropout=config.dropout,
        norm=config.norm,
        residual=config.residual,
    )


def build(model: nn.Module, data: PreparedData, config: Config) -> Built:
    """Seed everything, place ``model`` on its device and build the loop's inputs."""
    check_fits_data(checked(config), data)
    check_model_fits(model, data)  # the API's model is the user's own: the CLI's fits by build
    manual = config.engine == "manual"  # hand-written backward on numpy: CPU only
    device = pick_device("cpu" if manual and config.device == "auto" else config.device)
    generator = seed_everything(config.seed)
    model.to(device)
    forward, loss_fn = manual_engine(model, data.task) if manual else (model, TaskLoss(data.task))
    train = make_batches(
        data.train, config.batch_size, drop_last=config.drop_last, generator=generator,
        device=device,
    )  # fmt: skip
    val = None
    if data.val is not None:
        val = make_batches(data.val, VAL_BATCH, shuffle=False, device=device)
    flat = forward.engine.flat if isinstance(forward, ManualModel) else None
    optimizer = build_optimizer(model.parameters(), config, flat)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch=len(train))
    rows = len(data.train) if config.batch_size == "full" and isinstance(data.train, Split) else 0
    batch_rows = rows or (config.batch_size if isinstance(config.batch_size, int) else 1)
    threads = config.threads or auto_threads(model, batch_rows)
    return Built(forward, loss_fn, optimizer, scheduler, train, val, device, threads)


def check_fits_data(config: Config, data: PreparedData) -> None:
    """Config checks that need the data, and the data's own (shapes, labels, finite values):
    raise before any work is done, so that nothing fails once training has started."""
    if config.patience > 0 and data.val is None:
        raise ConfigError("patience needs a validation split: set val_fraction above 0")
    check_data(data)
    if isinstance(data.train, Split):
        rows = len(data.train)
        if isinstance(config.batch_size, int) and config.batch_size > rows:
            raise ConfigError(
                f"batch_size {config.batch_size} is larger than the training split ({rows} rows); "
                f"use --batch-size {rows} or less, or --batch-size full"
            )
        if config.model == "mlp" and config.hidden and config.norm == "batch":
            check_batch_norm_batches(rows, config.batch_size, config.drop_last)
    spec = model_spec(config, data)
    check_memory(
        f"training a model of {parameter_count(spec):,} parameters",
        parameter_count(spec) * TRAIN_BYTES_PER_PARAMETER,
        "use smaller --hidden widths",
    )
    # the optimizer and schedule as fit will build them, on a stand-in parameter: a schedule
    # that cannot run on this many updates per epoch is refused here, not at the first step
    steps = len(make_batches(data.train, config.batch_size, drop_last=config.drop_last))
    build_scheduler(build_optimizer([torch.zeros(1, requires_grad=True)], config), config, steps)


def check_batch_norm_batches(rows: int, batch_size: int | str, drop_last: bool) -> None:
    """Batch norm normalizes each unit over the batch: a batch of one row has no spread, and
    torch refuses it in training. Refuse a batch size of 1, or a last batch of 1 row."""
    size = rows if batch_size == "full" else int(batch_size)
    if size == 1 or rows == 1:
        raise ConfigError(
            "batch norm needs at least 2 rows per batch (it normalizes over the batch), got "
            "batches of 1; use --batch-size 2 or more, or --norm layer"
        )
    if rows % size == 1 and not drop_last:
        divisors = [b for b in range(size - 1, 1, -1) if rows % b != 1][:1]
        other = f", or --batch-size {divisors[0]}" if divisors else ""
        raise ConfigError(
            f"{rows} training rows in batches of {size} leave a last batch of 1 row, which "
            f"batch norm cannot normalize; add --drop-last{other}, or use --norm layer"
        )


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return the generator that shuffles the batches."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(name)
