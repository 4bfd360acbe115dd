"""Callbacks that write the run's record as it goes, so an interrupted run keeps its history."""

from __future__ import annotations

from pathlib import Path

from looplab.loop.events import Callback
from looplab.loop.history import History, Row
from looplab.loop.state import LoopState


class HistoryWriter(Callback):
    """Rewrites ``history.csv`` after every epoch (a few hundred bytes: cheap, and never stale)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        state.history.to_csv(self.path)

    def on_fit_end(self, state: LoopState, history: History) -> None:
        history.to_csv(self.path)
