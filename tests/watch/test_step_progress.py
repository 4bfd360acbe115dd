"""The step-counted progress bar: its total is every batch of the run, and it follows the loop's
step, a resumed run starting where it stopped."""

from __future__ import annotations

import io

import torch
from rich.console import Console
from torch import nn

from looplab.data.batches import Batches
from looplab.loop import fit
from looplab.loop.events import Callback, StopTraining
from looplab.loop.snapshot import Snapshot, capture
from looplab.loop.state import LoopState
from looplab.models.losses import TaskLoss
from looplab.watch.progress import StepProgressBar


class StopAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step
        self.snapshot: Snapshot = {}

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: torch.Tensor) -> None:
        if state.step == self.step:
            self.snapshot = capture(state)
            raise StopTraining


def run(
    bar: StepProgressBar, *callbacks: Callback, resume: dict[str, object] | None = None
) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(40, 3), torch.randint(0, 2, (40,))
    model = nn.Linear(3, 2)
    batches = Batches(x, y, 8, generator=torch.Generator().manual_seed(0))  # 5 per epoch
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, batches, TaskLoss("multiclass"), optimizer, epochs=3, task="multiclass",
        callbacks=[bar, *callbacks], resume=resume)  # fmt: skip


def test_the_bar_counts_every_step_of_the_run() -> None:
    bar = StepProgressBar(Console(file=io.StringIO()))
    run(bar)
    assert bar.progress is not None
    task = bar.progress.tasks[0]
    assert (task.completed, task.total) == (15, 15)
    assert "train loss" in task.fields["losses"]


def test_a_resumed_run_starts_the_bar_where_it_stopped() -> None:
    stop = StopAt(7)
    first = StepProgressBar(Console(file=io.StringIO()))
    run(first, stop)
    assert first.progress is not None and first.progress.tasks[0].completed == 7
    seen: list[float] = []

    class Watch(Callback):
        def on_fit_start(self, state: LoopState) -> None:
            assert second.progress is not None
            seen.append(second.progress.tasks[0].completed)

    second = StepProgressBar(Console(file=io.StringIO()))
    run(second, Watch(), resume=stop.snapshot)
    assert seen == [7]
    assert second.progress is not None and second.progress.tasks[0].completed == 15
