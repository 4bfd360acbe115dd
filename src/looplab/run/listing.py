"""``looplab runs``: what every directory under a folder says about itself.

A directory is a training run, or one of the experiments' (sweep, compare, lr-find,
regularize): each says what it is in its ``status.json`` (``kind``), and directories written
before that are recognized by their files. A directory whose files cannot be read is listed as
``damaged``, never hidden, and never hides the others.
"""

from __future__ import annotations

import contextlib
import json
import math
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from looplab.config import load_toml
from looplab.errors import RunError
from looplab.loop.history import History
from looplab.run.directory import DAMAGED, MODEL_FILE, STATUS_FILE, read_status

# the file that marks each kind of directory written before status.json said its kind (the
# files that make it complete, for those)
KIND_FILES = {
    "sweep": "results.md",
    "compare": "summary.csv",
    "lr-find": "lr_find.csv",
}
RESUMABLE = {
    "train": "looplab train --resume",
    "gpt": "looplab gpt --resume",
    "sweep": "looplab sweep --resume",
}


@dataclass
class RunInfo:
    """One line of ``looplab runs``: what a directory says about itself."""

    path: Path
    status: str
    dataset: str
    epochs: str  # "12/20": epochs done / asked for (a sweep: runs done / runs)
    best: tuple[str, float] | None  # (metric, value): best validation accuracy, R^2 or loss
    age_s: float | None  # seconds since the run last wrote its status
    message: str = ""
    kind: str = "train"  # train, gpt, sweep, compare, lr-find or regularize

    @property
    def resume_command(self) -> str | None:
        if self.status != "interrupted" or self.kind not in RESUMABLE:
            return None
        return f"{RESUMABLE[self.kind]} {shlex.quote(str(self.path))}"


def list_runs(base: str | Path) -> list[RunInfo]:
    """Every run or experiment directory under ``base``, newest first."""
    base = Path(base)
    if not base.is_dir():
        raise RunError(
            f"no runs directory {str(base)!r}; `looplab train` writes runs under runs/ "
            "(or --out DIR)"
        )
    infos = []
    for d in base.iterdir():
        marks = ("config.toml", STATUS_FILE, MODEL_FILE)
        if d.is_dir() and any((d / f).exists() for f in marks):
            infos.append(_safe_info(d))
    return sorted(infos, key=lambda r: (r.age_s is None, r.age_s or 0.0))


def _safe_info(run_dir: Path) -> RunInfo:
    """:func:`run_info`, or a ``damaged`` line naming what could not be read."""
    try:
        return run_info(run_dir)
    except Exception as exc:  # whatever is wrong with one directory, list the others
        return RunInfo(run_dir, DAMAGED, "?", "?", None, None, f"{type(exc).__name__}: {exc}")


def kind_of(run_dir: Path, record: dict[str, Any]) -> str:
    """``train``, ``sweep``, ``compare``, ``lr-find`` or ``regularize``."""
    kind = record.get("kind")
    if isinstance(kind, str) and kind:
        return kind
    if (run_dir / "sweep.json").exists():
        return "sweep"
    for name, mark in KIND_FILES.items():
        if (run_dir / mark).exists() and not (run_dir / MODEL_FILE).exists():
            return name
    return "train"


def run_info(run_dir: Path) -> RunInfo:
    """Kind, status, dataset, progress and best validation metric of one directory."""
    record = read_status(run_dir)
    kind = kind_of(run_dir, record)
    status = str(record["status"])
    if kind in KIND_FILES and not (run_dir / STATUS_FILE).exists():  # before status.json
        status = "complete" if (run_dir / KIND_FILES[kind]).exists() else "interrupted"
    dataset, total = "?", "?"
    with contextlib.suppress(Exception):  # a damaged config: list the run anyway
        values = load_toml(run_dir / "config.toml")
        if kind == "gpt":  # a language model: its text, and its epochs of eval_every updates
            dataset = Path(str(values.get("corpus", "pydoc"))).name  # the text file's name
            total = str(int(values["iterations"]) // int(values["eval_every"]))
        else:
            dataset, total = str(values.get("dataset", "moons")), str(values.get("epochs", 100))
    rows: list[dict[str, float]] = []
    with contextlib.suppress(Exception):  # no history yet, or a truncated one
        rows = History.from_csv(run_dir / "history.csv").rows
    progress = f"{len(rows)}/{total}" if kind in ("train", "gpt") else _progress(run_dir, kind)
    when = record.get("time")
    if not isinstance(when, (int, float)):
        when = (run_dir / STATUS_FILE if (run_dir / STATUS_FILE).exists() else run_dir).stat()
        when = when.st_mtime
    return RunInfo(
        path=run_dir,
        status=status,
        dataset=dataset,
        epochs=progress,
        best=best_metric(rows),
        age_s=max(0.0, time.time() - float(when)),
        message=str(record.get("message", "")),
        kind=kind,
    )


def _progress(run_dir: Path, kind: str) -> str:
    """A sweep's finished runs out of its total; ``-`` for the other experiments."""
    if kind != "sweep":
        return "-"
    done = len(list((run_dir / "points").glob("*.json"))) if (run_dir / "points").is_dir() else 0
    total: object = "?"
    with contextlib.suppress(Exception):
        total = json.loads((run_dir / "sweep.json").read_text())["total"]
    return f"{done}/{total}"


def best_metric(rows: list[dict[str, float]]) -> tuple[str, float] | None:
    """Best validation accuracy, else R^2, else lowest validation (or training) loss."""
    for name, pick in (("val_accuracy", max), ("val_r2", max), ("val_loss", min)):
        values = [r[name] for r in rows if name in r and math.isfinite(r[name])]
        if values:
            return name, pick(values)
    losses = [r["train_loss"] for r in rows if math.isfinite(r.get("train_loss", math.nan))]
    return ("train_loss", min(losses)) if losses else None
