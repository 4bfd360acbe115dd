"""The callback that writes ``history.csv`` as the run goes, so an interrupted run keeps it."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from looplab.files import write_atomic
from looplab.loop.events import Callback
from looplab.loop.history import History, Row
from looplab.loop.state import LoopState


class HistoryWriter(Callback):
    """Keeps ``history.csv`` equal to the run's history: written whole (atomically) when
    training starts, which after a resume drops rows past the checkpoint, and whenever a row
    brings a new column; otherwise one line is appended per epoch, in a single write call, so
    a killed process never leaves half a row. (Rewriting the whole file every epoch cost
    7.9 s of a 12.1 s run of 1000 epochs.)"""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: list[str] = []
        self.written = 0  # rows in the file

    def on_fit_start(self, state: LoopState) -> None:
        self._rewrite(state.history)

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        if self.written != len(state.history) - 1 or not set(row) <= set(self.header):
            self._rewrite(state.history)
            return
        line = io.StringIO()
        csv.DictWriter(line, fieldnames=self.header, restval="").writerow(row)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line.getvalue().encode())
        finally:
            os.close(fd)
        self.written += 1

    def on_fit_end(self, state: LoopState, history: History) -> None:
        if self.written != len(history):
            self._rewrite(history)

    def _rewrite(self, history: History) -> None:
        self.header = history.columns()
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=self.header, restval="")
        writer.writeheader()
        writer.writerows(history.rows)
        write_atomic(self.path, text.getvalue().encode())
        self.written = len(history)
