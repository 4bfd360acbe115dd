"""What a run produced: the trained model, its history and where it was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from looplab.config import Config
from looplab.data.prepared import PreparedData
from looplab.loop.history import History
from looplab.models.mlp import MLP, ModelSpec


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
