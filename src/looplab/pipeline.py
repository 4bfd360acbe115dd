"""A whole run as the CLI does it: data, model, ``fit``, then the run directory and its report."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w
import torch

from looplab.config import Config
from looplab.data.batches import make_batches
from looplab.data.prepared import PreparedData, load_prepared
from looplab.inspect.diagnoses import MESSAGES_FILE, Diagnoses
from looplab.inspect.monitors import ACTIVATIONS_FILE, LayerMonitor
from looplab.models.init import init_model
from looplab.models.losses import TaskLoss
from looplab.models.mlp import MLP, ModelSpec, build_model
from looplab.runs import MODEL_FILE, create_run_dir, save_model, status_of, write_status
from looplab.train.callbacks import Callback
from looplab.train.checkpoint import CHECKPOINT_DIR, write_atomic
from looplab.train.checkpointer import Checkpointer
from looplab.train.guard import DivergenceGuard, fit_with_rollback
from looplab.train.history import History
from looplab.train.interrupt import SignalCatcher
from looplab.train.loop import check_fits_data
from looplab.train.metrics import evaluate
from looplab.train.path import PATH_FILE, PathRecorder
from looplab.train.resume import is_done, prepare_resume, restored_history
from looplab.train.tensorboard import TensorBoardLogger
from looplab.train.writers import HistoryWriter


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


@dataclass
class TrainResult:
    """What a run produced: the trained model, its history, and where it was written."""

    config: Config
    data: PreparedData
    spec: ModelSpec
    model: MLP
    history: History
    run_dir: Path | None = None
    test: dict[str, float] = field(default_factory=dict)

    @property
    def report(self) -> Path | None:
        return self.run_dir / "report.html" if self.run_dir else None


def train(
    config: Config,
    callbacks: Sequence[Callback] = (),
    *,
    write: bool = True,
    on_note: Callable[[str], None] = lambda message: None,
    resume: Path | None = None,
    signals: SignalCatcher | None = None,
) -> TrainResult:
    """Run ``config`` end to end; with ``write``, save it under ``config.out``.

    ``on_note`` hears what the user should know before training (rows dropped from a CSV...).
    ``resume`` (a run directory) continues that run from its newest good checkpoint, exactly.
    With ``signals``, a caught Ctrl-C or SIGTERM checkpoints and raises ``Interrupted``.
    """
    config.validate()
    start_from, notes = prepare_resume(resume, config) if resume is not None else (None, [])
    data = load_prepared(config)
    for note in [*data.notes, *notes]:
        on_note(note)
    check_fits_data(config, data)
    spec = model_spec(config, data)
    model = build_model(spec, seed=config.seed)
    init_model(model, config.init, config.init_scale, seed=config.seed)  # --init; default: as built
    run_dir = resume or (create_run_dir(config.out, config.name, config) if write else None)
    if signals is not None:
        signals.run_dir = run_dir  # for the "resume with" line after an interruption
    monitor = LayerMonitor() if config.monitor else None  # --monitor: per-layer statistics
    # diagnoses before the guard: a NaN is explained in history.messages before it stops the run
    watchers: list[Callback] = [monitor, Diagnoses(monitor)] if monitor else [Diagnoses()]
    extra: list[Callback] = [*watchers, DivergenceGuard()]  # guard before any checkpoint
    path = PathRecorder()  # initial and epoch-end weights: path.pt, for `looplab landscape`
    with contextlib.ExitStack() as stack:
        checkpoints = run_dir / CHECKPOINT_DIR if run_dir else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="looplab-")))  # rollback needs checkpoints
        if run_dir is not None or config.on_nan == "rollback":
            every = (config.checkpoint_every, config.checkpoint_steps, config.keep_checkpoints)
            initial = config.on_nan == "rollback"
            extra.append(Checkpointer(checkpoints, *every, signals=signals, initial=initial))
        if run_dir is not None:
            write_atomic(run_dir / "config.toml", tomli_w.dumps(config.to_dict()).encode())
            extra += [HistoryWriter(run_dir / "history.csv"), path]
            if config.tensorboard:  # event file in the run directory: tensorboard --logdir runs/
                extra.append(TensorBoardLogger(run_dir))
            stack.enter_context(status_of(run_dir))
        if start_from is not None and is_done(start_from, config):
            history = restored_history(model, start_from)  # killed after its final checkpoint
        else:
            history = fit_with_rollback(
                model, data, config, [*extra, *callbacks], checkpoints, start_from
            )
        history.messages[:0] = [n for n in data.notes if n not in history.messages]
        result = TrainResult(config, data, spec, model, history, run_dir)
        if data.test is not None:
            device = next(model.parameters()).device
            batches = make_batches(data.test, 4096, shuffle=False, device=device)
            result.test = evaluate(model, batches, TaskLoss(data.task), data.task)
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
