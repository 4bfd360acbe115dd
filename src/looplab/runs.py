"""Run directories: where a run's config, history, model and report are written and read back.

A run directory holds ``config.toml``, ``history.csv``, ``model.pt``, ``report.html``,
``checkpoints/`` and ``status.json``. ``model.pt`` is a plain dict of tensors, strings and
numbers, so ``torch.load(weights_only=True)`` reads it without unpickling code. ``status.json``
is written atomically: ``running`` when training starts, ``complete`` only after the final
checkpoint, history, model and report are all written, else ``interrupted`` or ``failed``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from looplab.config import Config, Task, from_dict, load_toml
from looplab.data.prepared import PreparedData
from looplab.data.preprocess import Preprocessor
from looplab.errors import RunError
from looplab.models.mlp import MLP, ModelSpec, build_model

FORMAT_VERSION = 1
MODEL_FILE = "model.pt"
STATUS_FILE = "status.json"
STATUSES = ("running", "complete", "interrupted", "failed")


def create_run_dir(out: str | Path, name: str | None, config: Config) -> Path:
    """Make a new, empty run directory under ``out``; its default name says what was run."""
    base = Path(out)
    if name is None:
        dataset = re.sub(r"[^A-Za-z0-9_.-]+", "_", config.dataset.removeprefix("csv:"))
        dataset = dataset.removesuffix(".csv")
        name = f"{dataset}-{config.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = base / name, 2
    while path.exists():
        path, k = base / f"{name}-{k}", k + 1
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise RunError(
            f"cannot write the output directory {str(base)!r} ({reason}); "
            "choose another with --out DIR"
        ) from None
    return path


def save_model(path: Path, model: nn.Module, spec: ModelSpec, data: PreparedData) -> None:
    """Write weights with everything a prediction needs: spec, preprocessing and class names."""
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "spec": spec.to_dict(),
        "task": data.task,
        "feature_names": list(data.feature_names),
        "class_names": list(data.class_names),
        "encoding": data.encoding,
        "preprocessor": data.preprocessor.state_dict() if data.preprocessor else None,
    }
    torch.save(payload, path)


@dataclass
class SavedRun:
    """A run read back from its directory, ready to predict."""

    path: Path
    model: MLP
    spec: ModelSpec
    task: Task
    feature_names: list[str]
    class_names: list[str]
    encoding: dict[str, Any]
    preprocessor: Preprocessor | None
    config: Config | None


def load_run(path: str | Path) -> SavedRun:
    """Read a run directory (or its ``model.pt``) and rebuild the trained model in eval mode."""
    path = Path(path)
    run_dir = path.parent if path.is_file() else path
    file = path if path.is_file() else path / MODEL_FILE
    if not run_dir.exists():
        raise RunError(
            f"run {str(run_dir)!r} does not exist; `looplab train` writes runs under runs/"
        )
    if not file.exists():
        raise RunError(f"{str(run_dir)!r} has no {MODEL_FILE}; it is not a finished looplab run")
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged or foreign file: say so in one line
        raise RunError(
            f"{str(file)!r} cannot be read as a looplab model ({type(exc).__name__})"
        ) from None
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise RunError(f"{str(file)!r} is not a looplab model file")
    if payload["format_version"] != FORMAT_VERSION:
        raise RunError(
            f"{str(file)!r} was written in looplab format {payload['format_version']}, but this "
            f"looplab reads format {FORMAT_VERSION}; "
            "use the looplab version that wrote it, or train again"
        )
    try:
        spec = ModelSpec.from_dict(payload["spec"])
        model = build_model(spec)
        model.load_state_dict(payload["state_dict"])
        task, features = payload["task"], list(payload["feature_names"])
        classes = list(payload["class_names"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise RunError(
            f"{str(file)!r} is damaged or incomplete ({type(exc).__name__}: {exc}); train again"
        ) from None
    model.eval()
    pre = payload.get("preprocessor")
    config_file = run_dir / "config.toml"
    return SavedRun(
        path=run_dir,
        model=model,
        spec=spec,
        task=task,
        feature_names=features,
        class_names=classes,
        encoding=payload.get("encoding") or {},
        preprocessor=Preprocessor.from_state_dict(pre) if pre else None,
        config=from_dict(load_toml(config_file)) if config_file.exists() else None,
    )


def write_status(run_dir: Path, status: str, **info: Any) -> None:
    """Record a run's status atomically, with the process that wrote it and the time."""
    from looplab.train.checkpoint import write_atomic

    assert status in STATUSES, status
    record = {
        "status": status,
        "format_version": FORMAT_VERSION,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "time": time.time(),
        **info,
    }
    write_atomic(run_dir / STATUS_FILE, json.dumps(record, indent=1).encode())


def read_status(run_dir: Path) -> dict[str, Any]:
    """A run's status record; ``running`` whose process is gone reads as ``interrupted`` (it
    was killed: resumable from its checkpoints) or ``failed`` (no checkpoint to resume)."""
    try:
        record = json.loads((run_dir / STATUS_FILE).read_text())
        if not isinstance(record, dict) or record.get("status") not in STATUSES:
            raise ValueError
    except FileNotFoundError:
        has_model = (run_dir / MODEL_FILE).exists()
        record = {"status": "complete" if has_model else "failed", "time": None}  # older runs
    except (OSError, ValueError):
        return {"status": "failed", "message": f"{STATUS_FILE} is damaged", "time": None}
    if record["status"] == "running" and not _alive(record):
        from looplab.train.checkpoint import CHECKPOINT_DIR, list_checkpoints

        killed = bool(list_checkpoints(run_dir / CHECKPOINT_DIR))
        record = {**record, "status": "interrupted" if killed else "failed", "killed": True}
    return record


def _alive(record: dict[str, Any]) -> bool:
    if record.get("host") != socket.gethostname():
        return True  # written on another machine: trust the record
    pid = record.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def status_of(run_dir: Path) -> Iterator[None]:
    """Mark ``run_dir`` running; if the body raises, mark it interrupted (a signal or Ctrl-C)
    or failed. The caller writes ``complete`` once every file is in place."""
    write_status(run_dir, "running")
    try:
        yield
    except KeyboardInterrupt as exc:  # looplab.train.interrupt.Interrupted is one
        checkpoint = getattr(exc, "checkpoint", None)
        write_status(run_dir, "interrupted", checkpoint=str(checkpoint) if checkpoint else None)
        raise
    except BaseException as exc:
        message = str(exc).splitlines()[0] if str(exc) else ""
        write_status(run_dir, "failed", message=f"{type(exc).__name__}: {message}")
        raise


@dataclass
class RunInfo:
    """One line of ``looplab runs``: what a run directory says about itself."""

    path: Path
    status: str
    dataset: str
    epochs: str  # "12/20": epochs done / asked for
    best: tuple[str, float] | None  # (metric, value): best validation accuracy, R^2 or loss
    age_s: float | None  # seconds since the run last wrote its status
    message: str = ""

    @property
    def resume_command(self) -> str | None:
        if self.status != "interrupted":
            return None
        import shlex

        return f"looplab train --resume {shlex.quote(str(self.path))}"


def list_runs(base: str | Path) -> list[RunInfo]:
    """Every run directory under ``base``, newest first."""
    base = Path(base)
    if not base.is_dir():
        raise RunError(
            f"no runs directory {str(base)!r}; `looplab train` writes runs under runs/ "
            "(or --out DIR)"
        )
    infos = [
        run_info(d)
        for d in base.iterdir()
        if d.is_dir() and any((d / f).exists() for f in ("config.toml", STATUS_FILE, MODEL_FILE))
    ]
    return sorted(infos, key=lambda r: (r.age_s is None, r.age_s or 0.0))


def run_info(run_dir: Path) -> RunInfo:
    """Status, dataset, progress and best validation metric of one run directory."""
    from looplab.train.history import History

    record = read_status(run_dir)
    dataset, total = "?", "?"
    try:
        values = load_toml(run_dir / "config.toml")
        dataset, total = str(values.get("dataset", "moons")), str(values.get("epochs", 100))
    except Exception:  # a damaged config: list the run anyway
        pass
    rows: list[dict[str, float]] = []
    with contextlib.suppress(Exception):  # no history yet, or a truncated one
        rows = History.from_csv(run_dir / "history.csv").rows
    when = record.get("time")
    if not isinstance(when, (int, float)):
        when = (run_dir / STATUS_FILE if (run_dir / STATUS_FILE).exists() else run_dir).stat()
        when = when.st_mtime
    return RunInfo(
        path=run_dir,
        status=str(record["status"]),
        dataset=dataset,
        epochs=f"{len(rows)}/{total}",
        best=best_metric(rows),
        age_s=max(0.0, time.time() - float(when)),
        message=str(record.get("message", "")),
    )


def best_metric(rows: list[dict[str, float]]) -> tuple[str, float] | None:
    """Best validation accuracy, else R^2, else lowest validation (or training) loss."""
    import math

    for name, pick in (("val_accuracy", max), ("val_r2", max), ("val_loss", min)):
        values = [r[name] for r in rows if name in r and math.isfinite(r[name])]
        if values:
            return name, pick(values)
    losses = [r["train_loss"] for r in rows if math.isfinite(r.get("train_loss", math.nan))]
    return ("train_loss", min(losses)) if losses else None
