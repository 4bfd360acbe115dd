"""From a config to the things the loop is given: device, threads, seeds, engine, batches,
optimizer and schedule, each chosen by name.

Global side effects happen here and only here: :func:`seed_everything` seeds python's, numpy's
and torch's global generators (they stay seeded). The thread count is chosen here
(:mod:`looplab.run.threads`) but set only while the loop runs (``run.fit`` restores it).
"""

from __future__ import annotations

import math
import random
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from looplab.config import Config
from looplab.data.augment import Augment
from looplab.data.batches import Batches, make_batches
from looplab.data.mixup import Mixup
from looplab.data.prepared import PreparedData
from looplab.data.shards import ShardedBatches
from looplab.data.split import Split
from looplab.errors import ConfigError
from looplab.loop.protocols import BatchSource, LossFn, Optimizer
from looplab.manual.engine import ManualModel, manual_engine
from looplab.models.cnn import cnn_spec
from looplab.models.losses import TaskLoss
from looplab.models.mlp import ModelSpec, parameter_count
from looplab.resources import check_memory
from looplab.run.checks import checked
from looplab.run.data_checks import check_data, check_model_fits
from looplab.run.distributed import Distributed, data_parallel, rank_seed
from looplab.run.optimizers import build_optimizer
from looplab.run.precision import autocast_forward, compile_model, loss_scaling
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
    """The model a config asks for, sized to the data: inputs = features, outputs = classes;
    images (C, H, W) are flattened by an MLP and convolved by a CNN."""
    if config.model == "cnn":
        if not data.image_shape:
            raise ConfigError(
                f"--model cnn needs image data, and {data.name!r} is rows of features; use an "
                "image dataset (mnist-5k, mnist) or --model mlp"
            )
        return cnn_spec(data.image_shape, data.n_outputs, config.activation, config.dropout)
    return ModelSpec(
        in_features=data.n_features,
        out_features=data.n_outputs,
        hidden=tuple(config.hidden) if config.model == "mlp" else (),
        activation=config.activation,
        dropout=config.dropout,
        norm=config.norm,
        residual=config.residual,
        input_shape=data.image_shape,
    )


def build(
    model: nn.Module, data: PreparedData, config: Config, place: Distributed | None = None
) -> Built:
    """Seed everything, place ``model`` on its device and build the loop's inputs; as rank
    ``place`` of a data-parallel job: this rank's shard and the DDP-wrapped model."""
    check_fits_data(checked(config), data)
    check_model_fits(model, data)  # the API's model is the user's own: the CLI's fits by build
    manual = config.engine == "manual"  # hand-written backward on numpy: CPU only
    device = pick_device("cpu" if manual and config.device == "auto" else config.device, place)
    check_hardware(config, device)
    generator = seed_everything(config.seed)
    if place is not None:  # dropout masks: each rank its own, reproducibly
        torch.manual_seed(rank_seed(config.seed, place))
    model.to(device)
    loss_fn: LossFn
    loss = TaskLoss(data.task, config.label_smoothing)
    forward, loss_fn = manual_engine(model, data.task) if manual else (model, loss)
    flat = forward.engine.flat if isinstance(forward, ManualModel) else None  # its one array
    if config.compile:
        compile_model(model)
    forward = autocast_forward(forward, device, config.precision)
    if place is not None:  # backward all-reduces the gradients
        forward = data_parallel(forward, device, config.sync_bn)
    train, val = batches_for(data, config, device, generator, place)
    optimizer = build_optimizer(model.parameters(), config, flat)
    steps = math.ceil(len(train) / config.accumulate)  # optimizer steps an epoch
    scheduler = build_scheduler(optimizer, config, steps_per_epoch=steps)
    if config.precision == "fp16":  # the loss's gradient scaled up, the step's down
        loss_fn, optimizer = loss_scaling(loss_fn, optimizer, device)
    rows = len(data.train) if config.batch_size == "full" and isinstance(data.train, Split) else 0
    batch_rows = rows or (config.batch_size if isinstance(config.batch_size, int) else 1)
    world = place.world if place is not None else 1
    threads = config.threads or auto_threads(model, batch_rows // (world * config.accumulate))
    return Built(forward, loss_fn, optimizer, scheduler, train, val, device, threads)


def batches_for(
    data: PreparedData,
    config: Config,
    device: torch.device,
    generator: torch.Generator,
    place: Distributed | None,
) -> tuple[BatchSource, BatchSource | None]:
    """Training and validation batches. A micro-batch is one process's ``1 / accumulate`` of
    the batch; under ``place``, of this rank's shard (``batch_size`` is the global batch)."""
    world = place.world if place is not None else 1
    if not isinstance(data.train, Split):  # a torch Dataset or DataLoader: one process
        if place is not None:
            raise ConfigError("data-parallel training needs in-memory data (a Split)")
        size = config.batch_size
        if isinstance(size, int):
            size //= config.accumulate
        loader = make_batches(data.train, size, drop_last=config.drop_last, generator=generator,
                              device=device, augment=augmentation(config),
                              mixup=mixing(config, data))  # fmt: skip
        if data.val is None:
            return loader, None
        return loader, make_batches(data.val, VAL_BATCH, shuffle=False, device=device)
    X, y = data.train.X.to(device), data.train.y.to(device)
    batch = len(X) if config.batch_size == "full" else int(config.batch_size)  # global
    micro = math.ceil(math.ceil(batch / world) / config.accumulate)  # (rows,) per process
    val_split = data.val if isinstance(data.val, Split) else None
    if place is None:
        train: BatchSource = Batches(X, y, micro, drop_last=config.drop_last, generator=generator,
                                     augment=augmentation(config),
                                     mixup=mixing(config, data))  # fmt: skip
        val: BatchSource | None = None
        if val_split is not None:
            val = make_batches(val_split, VAL_BATCH, shuffle=False, device=device)
        return train, val
    if augmentation(config) is not None or config.mixup > 0:
        raise ConfigError("augmentation and mixup run in one process: leave --nproc at 1")
    train = ShardedBatches(X, y, micro, place.rank, place.world, drop_last=config.drop_last,
                           generator=generator)  # fmt: skip
    val = None
    if val_split is not None:  # uneven shards: exact, no padding
        Xv, yv = val_split.X.to(device), val_split.y.to(device)
        val = ShardedBatches(Xv, yv, VAL_BATCH, place.rank, place.world, shuffle=False, pad=False)
    return train, val


def augmentation(config: Config) -> Augment | None:
    """The random shifts and rotations a config asks for (None: none)."""
    augment = Augment(config.augment_shift, config.augment_rotate)
    return augment if augment.active else None


def mixing(config: Config, data: PreparedData) -> Mixup | None:
    """The mixup a config asks for (None: none)."""
    return Mixup(config.mixup, data.n_outputs) if config.mixup > 0 else None


def check_fits_data(config: Config, data: PreparedData) -> None:
    """Config checks that need the data, and the data's own (shapes, labels, finite values):
    raise before any work is done, so that nothing fails once training has started."""
    place = Distributed(0, config.nproc) if config.nproc > 1 else None  # the device's kind
    check_hardware(config, pick_device(config.device, place))
    if config.label_smoothing > 0 and data.task == "regression":
        raise ConfigError(
            f"label_smoothing softens class labels, and {data.name!r} is a regression "
            "(its target is a number); leave it at 0"
        )
    if config.mixup > 0 and data.task != "multiclass":
        raise ConfigError(
            f"mixup mixes one-hot class labels and works on multiclass data, and {data.name!r} "
            f"is {data.task}; leave it at 0"
        )
    if config.engine == "manual" and (config.label_smoothing > 0 or config.mixup > 0):
        raise ConfigError(
            "the manual engine's backward knows the plain losses only: use --engine autograd "
            "with label_smoothing or mixup"
        )
    if augmentation(config) is not None and not data.image_shape:
        raise ConfigError(
            f"augment_shift and augment_rotate move the pixels of images, and {data.name!r} is "
            "rows of features; leave them at 0, or use an image dataset (mnist-5k, mnist)"
        )
    if config.engine == "manual" and data.image_shape:
        raise ConfigError(
            "the manual engine trains MLPs on rows of features, not images; use --engine autograd"
        )
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


def pick_device(name: str, place: Distributed | None = None) -> torch.device:
    """``auto`` is the best there is: CUDA, else Apple's MPS (one process only), else the CPU.
    A rank of a data-parallel job on CUDA takes the GPU of its local rank."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif mps_available() and place is None:
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for but no CUDA GPU is available; use --device cpu")
    if name == "mps" and not mps_available():
        raise ConfigError(
            "device 'mps' asked for but Apple's MPS is not available; use --device cpu"
        )
    if name == "mps" and place is not None:
        raise ConfigError("device 'mps' runs one process: drop --nproc, or use --device cpu")
    if name == "cuda" and place is not None:
        return torch.device("cuda", place.local_rank % torch.cuda.device_count())
    return torch.device(name)


def mps_available() -> bool:
    """Apple's Metal GPU (MPS) is there."""
    return bool(torch.backends.mps.is_available())


def check_hardware(config: Config, device: torch.device) -> None:
    """What only some devices do: fp16 loss scaling and synchronized batch norm need CUDA."""
    if config.precision == "fp16" and device.type != "cuda":
        raise ConfigError(
            f"precision 'fp16' needs a CUDA GPU (the device is {device.type}); use --precision "
            "bf16, which needs no gradient scaler"
        )
    if config.sync_bn and device.type != "cuda":
        raise ConfigError(
            f"sync_bn needs CUDA GPUs (SyncBatchNorm; the device is {device.type}): drop "
            "--sync-bn, each process then normalizes with its own batch's statistics"
        )
