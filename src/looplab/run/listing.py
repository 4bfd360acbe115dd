"""``looplab runs``: what every run directory under a folder says about itself."""

from __future__ import annotations

import contextlib
import math
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from looplab.config import load_toml
from looplab.errors import RunError
from looplab.loop.history import History
from looplab.run.directory import MODEL_FILE, STATUS_FILE, read_status


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
    for name, pick in (("val_accuracy", max), ("val_r2", max), ("val_loss", min)):
        values = [r[name] for r in rows if name in r and math.isfinite(r[name])]
        if values:
            return name, pick(values)
    losses = [r["train_loss"] for r in rows if math.isfinite(r.get("train_loss", math.nan))]
    return ("train_loss", min(losses)) if losses else None
