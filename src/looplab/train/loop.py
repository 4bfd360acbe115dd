"""The training loop: ``fit``, which reads top to bottom on one screen.

Everything that is not the loop itself (progress bars, history files, monitors, checkpoints)
hangs on the five events of :mod:`looplab.train.callbacks`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from looplab.config import Config
from looplab.data.batches import make_batches
from looplab.data.prepared import PreparedData
from looplab.data.split import Split
from looplab.errors import ConfigError
from looplab.manual.engine import manual_engine
from looplab.models.losses import TaskLoss
from looplab.train.callbacks import Callback, CallbackList, StopTraining
from looplab.train.checkpoint import Payload
from looplab.train.early_stopping import EarlyStopping
from looplab.train.history import History, Row
from looplab.train.metrics import RunningMetrics, evaluate
from looplab.train.optimizers import build_optimizer
from looplab.train.resume import resume_state
from looplab.train.schedules import build_scheduler
from looplab.train.state import LoopState, pick_device, seed_everything


def fit(
    model: nn.Module,
    data: PreparedData,
    config: Config,
    callbacks: Sequence[Callback] = (),
    resume: str | Path | Payload | None = None,
) -> History:
    """Train ``model`` on ``data.train`` as ``config`` says, validating on ``data.val`` after
    every epoch; return the per-epoch history. With early stopping on, the best weights are
    restored at the end. ``resume`` (a checkpoint) continues a run exactly where it stopped."""
    state = start(model, data, config, resume)
    events = CallbackList(callbacks)
    events.on_fit_start(state)
    try:
        for epoch in range(state.epoch + 1, config.epochs + 1):
            events.on_epoch_start(state, epoch)
            state.model.train()
            running = state.running = state.running or RunningMetrics(state.task)
            started = time.perf_counter()
            # ---- the training step: everything below it in this epoch is bookkeeping ----
            for xb, yb in state.train_batches.epoch(skip=state.batch):
                xb, yb = xb.to(state.device), yb.to(state.device)  # no-op for in-memory data
                logits = state.model(xb)  # (batch, outputs): raw scores, no softmax
                loss = state.loss_fn(logits, yb)  # mean over the batch
                state.optimizer.zero_grad()  # gradients add up across backward calls
                loss.backward()  # d(mean loss)/d(each parameter) into .grad
                state.optimizer.step()  # p <- p - lr * update(p.grad)
                if state.scheduler is not None:  # warmup / one-cycle move every update
                    state.scheduler.after_update()
                running.update(loss, logits, yb)  # weighted by this batch's size
                state.batch, state.step = state.batch + 1, state.step + 1
                events.on_batch_end(state, epoch, state.batch - 1, loss)
            train_seconds = time.perf_counter() - started
            val = {}
            if state.val_batches is not None:  # under torch.no_grad() and model.eval()
                val = evaluate(state.model, state.val_batches, state.loss_fn, state.task)
            train = running.result()
            row = epoch_row(epoch, train, val, state.lr, started, train_seconds, running.count)
            state.history.append(row)
            state.epoch, state.batch, state.running = epoch, 0, None
            if state.scheduler is not None:  # plateau watches the validation loss
                state.scheduler.after_epoch(row.get("val_loss", row["train_loss"]))
            events.on_epoch_end(state, epoch, row)
            if state.stopper.update(epoch, row.get("val_loss", row["train_loss"]), state.model):
                state.history.messages.append(
                    f"early stopping at epoch {epoch}: no better validation loss for "
                    f"{config.patience} epochs; restored the weights of epoch "
                    f"{state.stopper.best_epoch}"
                )
                break
    except StopTraining:
        pass
    state.stopper.restore_best(state.model)
    events.on_fit_end(state, state.history)
    return state.history


def start(
    model: nn.Module,
    data: PreparedData,
    config: Config,
    resume: str | Path | Payload | None = None,
) -> LoopState:
    """Seed everything and build what the loop needs: device, batches, loss and optimizer;
    with ``resume``, then put back the checkpoint's weights, optimizer, RNGs and position."""
    check_fits_data(config.validate(), data)
    manual = config.engine == "manual"  # hand-written backward on numpy: CPU only
    device = pick_device("cpu" if manual and config.device == "auto" else config.device)
    generator = seed_everything(config.seed)
    if config.threads:  # small models: a second thread often costs more than it gives
        torch.set_num_threads(config.threads)
    model.to(device)
    forward, loss_fn = manual_engine(model, data.task) if manual else (model, TaskLoss(data.task))
    train = make_batches(
        data.train, config.batch_size, drop_last=config.drop_last, generator=generator,
        device=device,
    )
    val = None
    if data.val is not None:
        val = make_batches(data.val, 4096, shuffle=False, device=device)
    optimizer = build_optimizer(model.parameters(), config)
    state = LoopState(
        model=forward,  # the manual engine's model shares the MLP's layers and parameters
        optimizer=optimizer,
        scheduler=build_scheduler(optimizer, config, steps_per_epoch=len(train)),
        loss_fn=loss_fn,
        train_batches=train,
        val_batches=val,
        config=config,
        device=device,
        task=data.task,
        stopper=EarlyStopping(config.patience),
    )
    return state if resume is None else resume_state(state, resume)


def check_fits_data(config: Config, data: PreparedData) -> None:
    """Config checks that need the data: raise a ConfigError before any work is done."""
    if config.patience > 0 and data.val is None:
        raise ConfigError("patience needs a validation split: set val_fraction above 0")
    if isinstance(data.train, Split) and isinstance(config.batch_size, int):
        rows = len(data.train)
        if config.batch_size > rows:
            raise ConfigError(
                f"batch_size {config.batch_size} is larger than the training split ({rows} rows); "
                f"use --batch-size {rows} or less, or --batch-size full"
            )


def epoch_row(
    epoch: int,
    train: dict[str, float],
    val: dict[str, float],
    lr: float,
    started: float,
    train_seconds: float,
    samples: int,
) -> Row:
    """One history row: ``train_*`` and ``val_*`` metrics, the learning rate and the timing."""
    row: Row = {"epoch": float(epoch)}
    row |= {f"train_{k}": v for k, v in train.items()}
    row |= {f"val_{k}": v for k, v in val.items()}
    row["lr"] = lr
    row["time_s"] = time.perf_counter() - started
    row["samples_per_s"] = samples / train_seconds if train_seconds > 0 else float("nan")
    return row
