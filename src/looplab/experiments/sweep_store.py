"""A sweep's directory while it runs: its settings, and one file per finished run.

``sweep.json`` holds what the sweep is (the ``--vary`` values, seeds, target, base config);
``points/0007.json`` the outcome of run 7, written atomically the moment it ends. So an
interrupted sweep keeps every finished run, and ``looplab sweep --resume DIR`` trains only the
missing ones, after checking that DIR is a sweep and that nothing given now changes it.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from looplab.config import Config, from_dict
from looplab.errors import ConfigError, RunError
from looplab.experiments.sweep import RunOutcome, SweepPoint
from looplab.files import shorten, write_atomic

SETTINGS_FILE = "sweep.json"
POINTS_DIR = "points"
FORMAT = 1
UNCHECKED = frozenset({"out", "name"})  # where the sweep is written, not what it computes


@dataclass
class SweepSettings:
    """What a sweep is: its varied fields, seeds, target, whether runs are saved, base config."""

    vary: list[str]
    seeds: int
    target: float
    save_runs: bool
    base: dict[str, Any] = field(default_factory=dict)

    def config(self) -> Config:
        return from_dict(self.base)


def write_settings(directory: Path, settings: SweepSettings, total: int) -> None:
    """Write ``sweep.json``; ``total`` is the number of runs (for ``looplab runs``)."""
    record = {"format": FORMAT, "total": total, **asdict(settings)}
    write_atomic(directory / SETTINGS_FILE, json.dumps(record, indent=1).encode())


def read_settings(directory: Path) -> SweepSettings:
    """The settings of the sweep in ``directory``, or a one-line RunError saying it is none."""
    where = shorten(str(directory))
    if not directory.is_dir():
        raise RunError(f"cannot resume {where!r}: no such directory; give a sweep's directory")
    try:
        record = json.loads((directory / SETTINGS_FILE).read_text())
        settings = SweepSettings(
            [str(v) for v in record["vary"]],
            int(record["seeds"]),
            float(record["target"]),
            bool(record["save_runs"]),
            dict(record["base"]),
        )
    except FileNotFoundError:
        raise RunError(
            f"cannot resume {where!r}: it is not a sweep directory (no {SETTINGS_FILE}); give "
            "one written by `looplab sweep` (`looplab runs` lists them)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise RunError(
            f"cannot resume {where!r}: its {SETTINGS_FILE} is damaged ({type(exc).__name__}); "
            "start the sweep again"
        ) from None
    return settings


def differences(saved: SweepSettings, now: SweepSettings) -> list[str]:
    """What ``now`` changes of ``saved``, as ``name (old -> new)``: the base config's fields
    (where the sweep is written aside), the varied values and the seeds."""
    changes = []
    if saved.vary != now.vary:
        changes.append(f"vary ({saved.vary!r} -> {now.vary!r})")
    if saved.seeds != now.seeds:
        changes.append(f"seeds ({saved.seeds} -> {now.seeds})")
    if saved.save_runs != now.save_runs:
        changes.append(f"save_runs ({saved.save_runs} -> {now.save_runs})")
    old, new = saved.config().to_dict(), now.config().to_dict()
    for name in sorted((set(old) | set(new)) - UNCHECKED):
        if old.get(name) != new.get(name):
            changes.append(f"{name} ({old.get(name)!r} -> {new.get(name)!r})")
    return changes


def check_same(directory: Path, saved: SweepSettings, now: SweepSettings) -> None:
    changes = differences(saved, now)
    if changes:
        shown = ", ".join(changes[:5]) + (
            f" and {len(changes) - 5} more" if len(changes) > 5 else ""
        )
        raise ConfigError(
            f"cannot resume {shorten(str(directory))!r}: {shown} differ from the sweep's "
            "settings; drop those flags to finish it as it was, or start a new sweep"
        )


def save_outcome(directory: Path, outcome: RunOutcome) -> None:
    """Write one finished run's outcome (atomically: a crash leaves it whole or absent)."""
    point = outcome.point
    record = {
        "index": point.index,
        "label": point.label,
        "seed": point.seed,
        "rows": outcome.rows,
        "seconds": outcome.seconds,
        "messages": outcome.messages,
        "task": outcome.task,
        "error": outcome.error,
    }
    folder = directory / POINTS_DIR
    folder.mkdir(exist_ok=True)
    write_atomic(folder / f"{point.index:04d}.json", json.dumps(record).encode())


def load_outcomes(directory: Path, points: list[SweepPoint]) -> dict[int, RunOutcome]:
    """The finished runs saved in ``directory`` that belong to ``points`` (a damaged or foreign
    file is skipped: its run is simply done again)."""
    found: dict[int, RunOutcome] = {}
    folder = directory / POINTS_DIR
    for point in points:
        file = folder / f"{point.index:04d}.json"
        if not file.exists():
            continue
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, RecursionError):
            record = json.loads(file.read_text())
            if record["label"] != point.label or record["seed"] != point.seed:
                continue
            rows = [{str(k): float(v) for k, v in row.items()} for row in record["rows"]]
            found[point.index] = RunOutcome(
                point,
                rows,
                float(record["seconds"]),
                [str(m) for m in record["messages"]],
                str(record["task"]),
                str(record.get("error", "")),
            )
    return found
