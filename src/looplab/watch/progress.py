"""A rich progress bar over epochs with the live train and validation loss."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from torch import Tensor

from looplab.loop.events import Callback
from looplab.loop.history import History, Row
from looplab.loop.state import LoopState


class ProgressBar(Callback):
    """One bar for the run, advanced once per epoch; prints the run's messages as they come."""

    def __init__(self, console: Console | None = None, description: str = "training") -> None:
        self.console = console or Console(stderr=True)
        self.description = description
        self.progress: Progress | None = None
        self.task_id = TaskID(0)
        self.shown_messages = 0

    def on_fit_start(self, state: LoopState) -> None:
        if self.progress is not None:  # a rollback restarts fit: replace the bar, one at a time
            self.progress.live.transient = True
            self.progress.stop()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[losses]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self.task_id = self.progress.add_task(
            self.description, total=state.epochs, completed=state.epoch, losses=""
        )

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        assert self.progress is not None
        losses = f"train loss {row['train_loss']:.4g}"
        if "val_loss" in row:
            losses += f"  val loss {row['val_loss']:.4g}"
        self.progress.update(self.task_id, completed=epoch, losses=losses)
        self._print_new_messages(state.history)

    def on_fit_end(self, state: LoopState, history: History) -> None:
        if self.progress is not None:
            self.progress.stop()
        self._print_new_messages(history)

    def _print_new_messages(self, history: History) -> None:
        for message in history.messages[self.shown_messages :]:
            assert self.progress is not None
            self.progress.console.print(f"[yellow]note:[/] {message}")
        self.shown_messages = len(history.messages)


class StepProgressBar(ProgressBar):
    """The same bar counted in steps (batches), advanced after every one: for runs whose epochs
    are long, such as a language model's (``looplab gpt``)."""

    def on_fit_start(self, state: LoopState) -> None:
        super().on_fit_start(state)
        assert self.progress is not None
        total = state.epochs * len(state.train_batches)
        self.progress.update(self.task_id, total=total, completed=state.step)

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        assert self.progress is not None
        self.progress.update(self.task_id, completed=state.step)

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        super().on_epoch_end(state, epoch, row)
        assert self.progress is not None
        self.progress.update(self.task_id, completed=state.step)
