"""A whole run as the CLI does it: data, model, ``fit``, then the run directory and its report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from looplab.config import Config
from looplab.data.batches import make_batches
from looplab.data.prepared import PreparedData, load_prepared
from looplab.models.init import init_model
from looplab.models.losses import TaskLoss
from looplab.models.mlp import MLP, ModelSpec, build_model
from looplab.runs import MODEL_FILE, create_run_dir, save_model
from looplab.train.callbacks import Callback
from looplab.train.history import History
from looplab.train.loop import check_fits_data, fit
from looplab.train.metrics import evaluate
from looplab.train.path import PATH_FILE, PathRecorder
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
) -> TrainResult:
    """Run ``config`` end to end; with ``write``, save it under ``config.out``.

    ``on_note`` hears what the user should know before training (rows dropped from a CSV...).
    """
    config.validate()
    data = load_prepared(config)
    for note in data.notes:
        on_note(note)
    check_fits_data(config, data)
    spec = model_spec(config, data)
    model = build_model(spec, seed=config.seed)
    init_model(model, config.init, config.init_scale, seed=config.seed)  # --init; default: as built
    run_dir = create_run_dir(config.out, config.name, config) if write else None
    extra: list[Callback] = []
    path = PathRecorder()  # initial and epoch-end weights: path.pt, for `looplab landscape`
    if run_dir is not None:
        config.save(run_dir / "config.toml")
        extra.append(HistoryWriter(run_dir / "history.csv"))
        extra.append(path)
    history = fit(model, data, config, callbacks=[*extra, *callbacks])
    history.messages[:0] = data.notes
    result = TrainResult(config, data, spec, model, history, run_dir)
    if data.test is not None:
        device = next(model.parameters()).device
        batches = make_batches(data.test, 4096, shuffle=False, device=device)
        result.test = evaluate(model, batches, TaskLoss(data.task), data.task)
    if run_dir is not None:
        model.to(torch.device("cpu"))
        save_model(run_dir / MODEL_FILE, model, spec, data)
        path.path.save(run_dir / PATH_FILE)
        from looplab.report.html import write_report

        write_report(result)
    return result
