"""Run directories and their status.

A run directory holds ``config.toml``, ``history.csv``, ``model.pt``, ``report.html``,
``checkpoints/`` and ``status.json``. ``status.json`` is written atomically: ``running`` when
training starts, ``complete`` only after the final checkpoint, history, model and report are
all written, else ``interrupted`` or ``failed``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path, PureWindowsPath
from typing import Any

from looplab.config import Config
from looplab.errors import RunError
from looplab.files import check_portable_name, portable_name, write_atomic
from looplab.watch.checkpoint import CHECKPOINT_DIR, list_checkpoints

STATUS_FILE = "status.json"
MODEL_FILE = "model.pt"  # the trained model: looplab.run.saved writes and reads it
FORMAT_VERSION = 1  # of the run's files: model.pt and status.json
STATUSES = ("running", "complete", "interrupted", "failed")


def create_run_dir(
    out: str | Path, name: str | None, config: Config, default: str | None = None
) -> Path:
    """Make a new, empty run directory under ``out``: ``name`` (the user's ``--name``, refused
    if some system would refuse it), else ``default`` (a command's own name for it) or
    DATASET-MODEL-TIME, made portable; ``-2``, ``-3``... when the name is taken."""
    base = Path(out)
    if name is not None:
        check_portable_name(name)
    else:
        if default is None:
            dataset = config.dataset
            if dataset.startswith("csv:"):  # C:\data\houses.csv or data/houses.csv: houses
                dataset = PureWindowsPath(dataset.removeprefix("csv:")).stem
            default = f"{dataset}-{config.model}-{time.strftime('%Y%m%d-%H%M%S')}"
        name = portable_name(default)
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


def write_status(run_dir: Path, status: str, **info: object) -> None:
    """Record a run's status atomically, with the process that wrote it and the time."""
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
    except KeyboardInterrupt as exc:  # looplab.watch.interrupt.Interrupted is one
        checkpoint = getattr(exc, "checkpoint", None)
        write_status(run_dir, "interrupted", checkpoint=str(checkpoint) if checkpoint else None)
        raise
    except BaseException as exc:
        message = str(exc).splitlines()[0] if str(exc) else ""
        write_status(run_dir, "failed", message=f"{type(exc).__name__}: {message}")
        raise
