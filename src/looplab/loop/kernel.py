"""The training loop: ``fit``, which reads top to bottom on one screen.

It knows no config, no run directory and no engine: it is given the model, the batches, the
loss and the optimizer (anything that has the methods of :mod:`looplab.loop.protocols`), and
everything that is not the loop itself (progress bars, history files, monitors, checkpoints)
hangs on the five events of :mod:`looplab.loop.events`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from torch import nn
from torch.nn.utils import clip_grad_norm_

from looplab.errors import ConfigError
from looplab.loop.early_stopping import EarlyStopping
from looplab.loop.events import Callback, CallbackList, StopTraining
from looplab.loop.history import History, Note, Row
from looplab.loop.metrics import Reduce, evaluate
from looplab.loop.protocols import BatchSource, LossFn, Optimizer, Scheduler
from looplab.loop.snapshot import Snapshot, restore
from looplab.loop.state import LoopState, model_device
from looplab.task import Task


def fit(
    model: nn.Module,
    batches: BatchSource,
    loss_fn: LossFn,
    optimizer: Optimizer,
    *,
    epochs: int,
    task: Task,
    val_batches: BatchSource | None = None,
    scheduler: Scheduler | None = None,
    callbacks: Sequence[Callback] = (),
    patience: int = 0,
    resume: Snapshot | None = None,
    target_scale: float = 1.0,
    accumulate: int = 1,
    clip_norm: float | None = None,
    reduce_metrics: Reduce | None = None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``batches``, validating on ``val_batches``
    after every epoch; return the per-epoch history. ``task`` says which metrics to keep. With
    ``patience`` > 0, stop after that many epochs without a better validation loss and restore
    the best weights. ``resume`` (a :func:`~looplab.loop.snapshot.capture`) continues exactly.
    ``target_scale`` turns the MAE of a standardized regression target into the target's units.
    ``accumulate`` micro-batches make one optimizer step (gradient accumulation); ``clip_norm``
    rescales the step's gradient to at most that total L2 norm. ``reduce_metrics`` sums the
    metric sums of every process of a data-parallel run (:mod:`looplab.run.distributed`)."""
    if patience > 0 and val_batches is None:
        raise ConfigError("early stopping (patience) needs validation data: give val_batches")
    state = LoopState(model, optimizer, loss_fn, batches, val_batches, model_device(model),
                      task, epochs, scheduler, stopper=EarlyStopping(patience),
                      target_scale=target_scale, reduce_metrics=reduce_metrics,
                      clip_norm=clip_norm)  # fmt: skip
    if resume is not None:
        restore(state, resume)
    events = CallbackList(callbacks)
    events.on_fit_start(state)
    try:
        for epoch in range(state.epoch + 1, epochs + 1):
            events.on_epoch_start(state, epoch)
            state.model.train()
            running = state.running = state.running or state.new_metrics()
            started = time.perf_counter()
            n = len(state.train_batches)
            # ---- the training step: everything below it in this epoch is bookkeeping ----
            for xb, yb in state.train_batches.epoch(skip=state.batch):
                xb = xb.to(state.device, non_blocking=True)  # no-op for in-memory data
                yb = yb.to(state.device, non_blocking=True)
                # K = accumulate micro-batches make one step (the epoch's last may have fewer)
                k = min(accumulate, n - state.batch // accumulate * accumulate)
                ends_step = (state.batch + 1) % accumulate == 0 or state.batch + 1 == n
                if state.batch % accumulate == 0:  # a step starts
                    state.optimizer.zero_grad()  # gradients add up across backward calls
                with gradient_sync(state.model, ends_step):  # DDP: all-reduce with the last
                    logits = state.model(xb)  # (batch, outputs): raw scores, no softmax
                    loss = state.loss_fn(logits, yb)  # mean over the batch
                    # d(mean loss)/d(each parameter) into .grad; k means / k: the step's mean
                    (loss / k if k > 1 else loss).backward()
                running.update(loss, logits, yb)  # weighted by this batch's size
                state.batch += 1
                if not ends_step:
                    continue
                if clip_norm is not None:  # ||g|| > clip_norm: g <- g * clip_norm / ||g||
                    state.grad_norm = clip_grad_norm_(state.model.parameters(), clip_norm)
                state.optimizer.step()  # p <- p - lr * update(p.grad)
                if state.scheduler is not None:  # warmup / one-cycle move every update
                    state.scheduler.after_update()
                state.step += 1
                events.on_batch_end(state, epoch, state.batch - 1, loss)
            train_seconds = time.perf_counter() - started
            val = {}
            if state.val_batches is not None:  # under torch.no_grad() and model.eval()
                val = evaluate(state.model, state.val_batches, state.loss_fn, task,
                               target_scale=target_scale, reduce=reduce_metrics)  # fmt: skip
            train = running.result()  # every process's rows, when data-parallel
            row = epoch_row(epoch, train, val, state.lr, started, train_seconds, running.total)
            state.history.append(row)
            state.epoch, state.batch, state.running = epoch, 0, None
            watched = row.get("val_loss", row["train_loss"])  # plateau and early stopping
            if state.scheduler is not None:
                state.scheduler.after_epoch(watched)
            events.on_epoch_end(state, epoch, row)
            if state.stopper.update(epoch, watched, state.model):
                state.history.note(early_stopping_note(state.stopper, epoch))
                break
    except StopTraining:
        pass
    state.stopper.restore_best(state.model)
    events.on_fit_end(state, state.history)
    return state.history


def gradient_sync(model: nn.Module, sync: bool) -> contextlib.AbstractContextManager[object]:
    """Nothing for a plain model. A ``DistributedDataParallel`` model all-reduces gradients in
    ``backward``: on micro-batches that do not end a step (``sync`` False) its ``no_sync()``
    keeps them local, and the step's last micro-batch all-reduces their sum once."""
    no_sync = getattr(model, "no_sync", None)
    return contextlib.nullcontext() if sync or no_sync is None else no_sync()


def early_stopping_note(stopper: EarlyStopping, epoch: int) -> Note:
    """What the run says when early stopping ends it."""
    return Note(
        "early stopping",
        f"no better validation loss for {stopper.patience} epochs up to epoch {epoch}; restored "
        f"the weights of epoch {stopper.best_epoch} (validation loss {stopper.best_loss:.4g})",
        epoch=epoch,
        numbers={"best_epoch": float(stopper.best_epoch), "best_loss": stopper.best_loss},
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
