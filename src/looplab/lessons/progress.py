"""The learner's progress: which exercises passed and how many hints each has shown.

One small JSON file, ``progress.json``, in the user's data directory
(``platformdirs.user_data_dir("looplab")``, or ``$LOOPLAB_DATA_DIR`` when set: the tests point
it at a temporary directory). Every write is atomic.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from looplab.errors import LooplabError
from looplab.files import write_atomic

ENV = "LOOPLAB_DATA_DIR"


def data_dir() -> Path:
    """Where looplab keeps the learner's files."""
    override = os.environ.get(ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("looplab"))


def progress_file() -> Path:
    return data_dir() / "progress.json"


@dataclass
class Progress:
    """``passed`` maps an exercise id to when it first passed; ``hints`` to how many of its
    ordered hints were shown."""

    passed: dict[str, str] = field(default_factory=dict)
    hints: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Progress:
        path = progress_file()
        if not path.exists():
            return cls()
        try:
            d = json.loads(path.read_text())
            return cls(dict(d.get("passed", {})), {k: int(v) for k, v in d["hints"].items()})
        except (ValueError, KeyError, TypeError, AttributeError):
            raise LooplabError(
                f"{path} is not a looplab progress file; move it away to start afresh"
            ) from None

    def save(self) -> None:
        path = progress_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"version": 1, "passed": self.passed, "hints": self.hints}
        write_atomic(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())

    def mark_passed(self, exercise_id: str) -> None:
        self.passed.setdefault(exercise_id, time.strftime("%Y-%m-%dT%H:%M:%S"))

    def has_passed(self, exercise_id: str) -> bool:
        return exercise_id in self.passed
