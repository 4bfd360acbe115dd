"""The training loop: ``fit``, which reads top to bottom on one screen.

It knows no config, no run directory and no engine: it is given the model, the batches, the
loss and the optimizer (anything that has the methods of :mod:`looplab.loop.protocols`), and
everything that is not the loop itself (progress bars, history files, monitors, checkpoints)
hangs on the five events of :mod:`looplab.loop.events`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from torch import nn

from looplab.errors import ConfigError
from looplab.loop.early_stopping import EarlyStopping
from looplab.loop.events import Callback, CallbackList, StopTraining
from looplab.loop.history import History, Note, Row
from looplab.loop.metrics import RunningMetrics, evaluate
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
) -> History:
    """Train ``model`` for ``epochs`` passes over ``batches``, validating on ``val_batches``
    after every epoch; return the per-epoch history. ``task`` says which metrics to keep. With
    ``patience`` > 0, stop after that many epochs without a better validation loss and restore
    the best weights. ``resume`` (a :func:`~looplab.loop.snapshot.capture`) continues exactly.
    ``target_scale`` turns the MAE of a standardized regression target into the target's units."""
    if patience > 0 and val_batches is None:
        raise ConfigError("early stopping (patience) needs validation data: give val_batches")
    state = LoopState(model, optimizer, loss_fn, batches, val_batches, model_device(model),
                      task, epochs, scheduler, stopper=EarlyStopping(patience),
                      target_scale=target_scale)  # fmt: skip
    if resume is not None:
        restore(state, resume)
    events = CallbackList(callbacks)
    events.on_fit_start(state)
    try:
        for epoch in range(state.epoch + 1, epochs + 1):
            events.on_epoch_start(state, epoch)
            state.model.train()
            running = state.running = state.running or RunningMetrics(task, target_scale)
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
                val = evaluate(state.model, state.val_batches, state.loss_fn, task,
                               target_scale=target_scale)  # fmt: skip
            row = epoch_row(epoch, running.result(), val, state.lr, started, train_seconds,
                            running.count)  # fmt: skip
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
