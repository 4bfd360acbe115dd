"""A whole run as the CLI does it: data, model, ``fit``, then the run directory and its report."""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import tomli_w
import torch

from looplab.config import Config
from looplab.data.batches import make_batches
from looplab.data.prepared import PreparedData, load_prepared
from looplab.errors import RunError
from looplab.files import shorten, write_atomic, write_fix, write_problem
from looplab.loop.events import Callback
from looplab.loop.history import History, Note
from looplab.loop.snapshot import Snapshot
from looplab.models.cnn import CNN, build_network
from looplab.models.init import init_model
from looplab.models.mlp import MLP, ModelSpec
from looplab.run.averaging import weight_average
from looplab.run.build import check_fits_data, model_spec
from looplab.run.checks import checked
from looplab.run.directory import (
    RunLock,
    check_not_running,
    create_run_dir,
    status_of,
    write_status,
)
from looplab.run.distributed import AgreedSignals, Distributed, from_primary, gather_snapshot
from looplab.run.evaluation import evaluate_splits, kept_epoch
from looplab.run.fit import fit
from looplab.run.result import TrainResult
from looplab.run.resume import is_done, prepare_resume, restored_history
from looplab.run.rollback import fit_with_rollback
from looplab.run.saved import MODEL_FILE, save_model
from looplab.watch.averaging import WeightAverage
from looplab.watch.checkpoint import CHECKPOINT_DIR, Found, list_checkpoints
from looplab.watch.checkpointer import Checkpointer
from looplab.watch.clipping import ClipCounter
from looplab.watch.diagnoses import MESSAGES_FILE, Diagnoses
from looplab.watch.guard import DivergenceGuard
from looplab.watch.history_writer import HistoryWriter
from looplab.watch.interrupt import SignalCatcher
from looplab.watch.monitors import ACTIVATIONS_FILE, LayerMonitor
from looplab.watch.path import PATH_FILE, PathRecorder
from looplab.watch.tensorboard import TensorBoardLogger


def train(
    config: Config,
    callbacks: Sequence[Callback] = (),
    *,
    write: bool = True,
    on_note: Callable[[str], None] = lambda message: None,
    resume: Path | None = None,
    signals: SignalCatcher | None = None,
    place: Distributed | None = None,
) -> TrainResult:
    """Run ``config`` end to end; with ``write``, save it under ``config.out``.

    ``on_note`` hears what the user should know before training (rows dropped from a CSV...).
    ``resume`` (a run directory) continues that run from its newest good checkpoint, exactly.
    With ``signals``, a caught Ctrl-C or SIGTERM checkpoints and raises ``Interrupted``.
    ``place``: this process's rank in a data-parallel job; rank 0 reads and writes the run
    directory, the other ranks train their shards beside it (:mod:`looplab.run.distributed`).

    Everything that can be refused (config, data, device, engine, schedule, the checkpoint a
    resume continues, another process training into the same run) is checked before the run
    directory changes; a disk that refuses a write later stops the run at its last checkpoint
    with a one-line :class:`RunError` saying how to continue.
    """
    checked(config)
    primary = place is None or place.primary
    run_dir: Path | None = None
    try:
        with contextlib.ExitStack() as stack:
            lock = stack.enter_context(RunLock(resume)) if resume is not None and primary else None

            def prepare() -> tuple[Found | None, list[str]]:
                """Rank 0 reads the checkpoint to resume; a refusal reaches every rank."""
                if resume is None:
                    return None, []
                if lock is not None:
                    lock.acquire(create=False)  # refused at once while another process holds it
                    if lock.fd is None:  # no lock file (an older run): its status may name one
                        check_not_running(resume)
                return prepare_resume(resume, config)

            found, notes = from_primary(place, prepare)
            data = load_prepared(config)
            check_fits_data(config, data)
            spec = model_spec(config, data)
            model = build_network(spec, seed=config.seed)
            init_model(model, config.init, config.init_scale, seed=config.seed)  # --init
            # ---- every check has passed: from here on, the run directory changes ----
            if signals is not None:  # a signal during the checks: nothing written, leave now
                signals.raise_if_caught()
                signals.immediate = False  # from here on, stop at a checkpoint

            def claim() -> Path | None:
                """Rank 0 takes the run directory (the resumed one, or a new one)."""
                if resume is not None and found is not None:
                    if lock is not None:
                        lock.acquire()
                    found.set_aside()  # damaged newer checkpoints, out of rotation's way
                    return resume
                if write:
                    made = create_run_dir(config.out, config.name, config)
                    stack.enter_context(RunLock(made)).acquire()
                    return made
                return None

            run_dir = from_primary(place, claim)
            for note in [*data.notes, *notes]:
                on_note(note)
            if signals is not None:
                signals.run_dir = run_dir  # for the "resume with" line after an interruption
            start_from = found.payload if found is not None else None
            result = _train(config, data, spec, model, run_dir, start_from, callbacks, signals,
                            stack, place)  # fmt: skip
    except OSError as exc:
        problem = write_problem(exc)
        if problem is None or run_dir is None:
            raise
        if list_checkpoints(run_dir / CHECKPOINT_DIR):
            then = f"continue with: looplab train --resume {shorten(str(run_dir))}"
        else:
            then = "run it again"
        raise RunError(f"{problem}; the run stopped: {write_fix(exc)}, then {then}") from None
    return result


def _train(
    config: Config,
    data: PreparedData,
    spec: ModelSpec,
    model: MLP | CNN,
    run_dir: Path | None,
    start_from: Snapshot | None,
    callbacks: Sequence[Callback],
    signals: SignalCatcher | None,
    stack: contextlib.ExitStack,
    place: Distributed | None,
) -> TrainResult:
    """The training half of :func:`train`, once everything is checked and the directory is
    ours: callbacks, checkpoints, fit (with rollback), then the run's files (rank 0's)."""
    primary = place is None or place.primary
    monitor = LayerMonitor() if config.monitor and primary else None  # per-layer statistics
    # diagnoses before the guard: a NaN is explained in history.messages before it stops the run
    watchers: list[Callback] = [monitor, Diagnoses(monitor)] if monitor else [Diagnoses()]
    clips = ClipCounter() if config.clip_norm is not None and primary else None  # clip_frac
    if clips is not None:
        watchers.insert(0, clips)
    # callbacks whose own state is part of exact resume: saved in every checkpoint, given back
    stateful: dict[str, LayerMonitor | ClipCounter | WeightAverage] = {
        k: v for k, v in (("monitor", monitor), ("clips", clips)) if v is not None
    }
    rolls_back = config.on_nan == "rollback"
    extra: list[Callback] = [*(watchers if primary else []), DivergenceGuard(rolls_back)]
    job = AgreedSignals(signals, place) if signals is not None and place is not None else None
    if job is not None:  # every rank stops after the same step
        extra.append(job)
    # --ema-decay, --swa-start: the average is part of each checkpoint, whose model keeps the raw
    # weights (a resumed run goes on from them); it is swapped in once training is over
    averager = weight_average(config, swap_at_end=False)
    if averager is not None:
        extra.append(averager)
        stateful["average"] = averager
    path = PathRecorder()  # initial and epoch-end weights: path.pt, for `looplab landscape`
    checkpoints = (
        run_dir / CHECKPOINT_DIR
        if run_dir
        else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="looplab-")))
    )  # rollback needs checkpoints
    if run_dir is not None or rolls_back:
        every = (config.checkpoint_every, config.checkpoint_steps, config.keep_checkpoints)
        gather = functools.partial(gather_snapshot, place) if place is not None else None
        extra.append(Checkpointer(checkpoints, *every, signals=job or signals,
                                  initial=rolls_back, extra={"config": config.to_dict()},
                                  parts=stateful, gather=gather, writes=primary))  # fmt: skip
    if run_dir is not None and primary:
        write_atomic(run_dir / "config.toml", tomli_w.dumps(config.to_dict()).encode())
        extra += [HistoryWriter(run_dir / "history.csv"), path]
        if config.tensorboard:  # event file in the run directory: tensorboard --logdir runs/
            extra.append(TensorBoardLogger(run_dir))
        stack.enter_context(status_of(run_dir))

    def restore_parts(snapshot: Snapshot | None) -> None:
        for name, part in stateful.items():
            if snapshot is not None and name in snapshot:
                part.load_state_dict(snapshot[name])

    def fit_once(resume: Snapshot | None) -> History:
        restore_parts(resume)
        return fit(model, data, config, [*extra, *callbacks], resume, place)

    if start_from is not None and is_done(start_from, config):
        history = restored_history(model, start_from)  # killed after its final checkpoint
        restore_parts(start_from)
    else:
        history = fit_with_rollback(fit_once, checkpoints, rolls_back, start_from)
    if averager is not None:  # the final model is the average
        if start_from is not None and is_done(start_from, config):
            averager.load_state_dict(start_from.get("average", {}))
        batches = make_batches(data.train, config.batch_size)  # for SWA's batch-norm statistics
        averager.swap(model, history, (xb for xb, _ in batches.epoch()))
    said = set(history.messages)
    history.notes[:0] = [Note("", n) for n in data.notes if n not in said]  # data's notes
    if not primary:  # rank 0 evaluates and writes the run
        return TrainResult(config, data, spec, model, history, None)
    result = TrainResult(config, data, spec, model, history, run_dir)
    result.final = evaluate_splits(model, data)  # the kept weights, not the last epoch's
    result.kept_epoch = kept_epoch(history, config.patience)
    if run_dir is not None:
        write_run_files(result, run_dir, monitor, path)
        write_status(run_dir, "complete")  # only now: checkpoint, history, report are written
    return result


def write_run_files(
    result: TrainResult, run_dir: Path, monitor: LayerMonitor | None, path: PathRecorder
) -> None:
    """The finished run's files: history, messages, model, path, monitor samples, report."""
    from looplab.report.html import write_report

    result.model.to(torch.device("cpu"))
    write_atomic(run_dir / "history.csv", result.history.to_csv_text().encode())
    messages = "".join(f"{m}\n" for m in result.history.messages)
    write_atomic(run_dir / MESSAGES_FILE, messages.encode())
    if monitor is not None:  # sampled activations, for the report's histograms
        monitor.save_samples(run_dir / ACTIVATIONS_FILE)
    save_model(run_dir / MODEL_FILE, result.model, result.spec, result.data)
    if path.points:  # empty when a finished run only had its files to write
        path.path.save(run_dir / PATH_FILE)
    try:
        write_report(result)
    except OSError:  # a full disk: no half-written report is left to be mistaken for one
        with contextlib.suppress(OSError):
            (run_dir / "report.html").unlink()
        raise
