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
from looplab.data.prepared import load_prepared
from looplab.files import write_atomic
from looplab.loop.events import Callback
from looplab.loop.history import History, Note
from looplab.loop.snapshot import Snapshot
from looplab.models.init import init_model
from looplab.models.mlp import build_model
from looplab.run.build import check_fits_data, checked, model_spec
from looplab.run.directory import create_run_dir, status_of, write_status
from looplab.run.distributed import AgreedSignals, Distributed, from_primary, gather_snapshot
from looplab.run.evaluation import evaluate_splits, kept_epoch
from looplab.run.fit import fit
from looplab.run.result import TrainResult
from looplab.run.resume import is_done, prepare_resume, restored_history
from looplab.run.rollback import fit_with_rollback
from looplab.run.saved import MODEL_FILE, save_model
from looplab.watch.checkpoint import CHECKPOINT_DIR
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
    """
    checked(config)
    primary = place is None or place.primary
    start_from, notes = from_primary(
        place, lambda: prepare_resume(resume, config) if resume is not None else (None, [])
    )
    data = load_prepared(config)
    for note in [*data.notes, *notes]:
        on_note(note)
    check_fits_data(config, data)
    spec = model_spec(config, data)
    model = build_model(spec, seed=config.seed)
    init_model(model, config.init, config.init_scale, seed=config.seed)  # --init; default: as built
    run_dir = resume or from_primary(
        place, lambda: create_run_dir(config.out, config.name, config) if write else None
    )
    if signals is not None:
        signals.run_dir = run_dir  # for the "resume with" line after an interruption
    monitor = LayerMonitor() if config.monitor and primary else None  # per-layer statistics
    # diagnoses before the guard: a NaN is explained in history.messages before it stops the run
    watchers: list[Callback] = [monitor, Diagnoses(monitor)] if monitor else [Diagnoses()]
    if config.clip_norm is not None:  # clip_frac: how often the clip acted
        watchers.insert(0, ClipCounter())
    rolls_back = config.on_nan == "rollback"
    extra: list[Callback] = [*(watchers if primary else []), DivergenceGuard(rolls_back)]
    job = AgreedSignals(signals, place) if signals is not None and place is not None else None
    if job is not None:  # every rank stops after the same step
        extra.append(job)
    path = PathRecorder()  # initial and epoch-end weights: path.pt, for `looplab landscape`
    with contextlib.ExitStack() as stack:
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
                                      gather=gather, writes=primary))  # fmt: skip
        if run_dir is not None and primary:
            write_atomic(run_dir / "config.toml", tomli_w.dumps(config.to_dict()).encode())
            extra += [HistoryWriter(run_dir / "history.csv"), path]
            if config.tensorboard:  # event file in the run directory: tensorboard --logdir runs/
                extra.append(TensorBoardLogger(run_dir))
            stack.enter_context(status_of(run_dir))
        if start_from is not None and is_done(start_from, config):
            history = restored_history(model, start_from)  # killed after its final checkpoint
        else:

            def fit_once(resume: Snapshot | None) -> History:
                return fit(model, data, config, [*extra, *callbacks], resume, place)

            history = fit_with_rollback(fit_once, checkpoints, rolls_back, start_from)
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
    result.history.to_csv(run_dir / "history.csv")
    (run_dir / MESSAGES_FILE).write_text("".join(f"{m}\n" for m in result.history.messages))
    if monitor is not None:  # sampled activations, for the report's histograms
        monitor.save_samples(run_dir / ACTIVATIONS_FILE)
    save_model(run_dir / MODEL_FILE, result.model, result.spec, result.data)
    if path.points:  # empty when a finished run only had its files to write
        path.path.save(run_dir / PATH_FILE)
    write_report(result)
