"""The kernel ``looplab.loop.fit`` on plain PyTorch objects, against the loop written by hand.

The oracle is the training loop of the course written out over the same ``DataLoader``, from
the same seeds: the kernel must take exactly its steps (bitwise the same weights and losses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from looplab import loop
from looplab.data.batches import LoaderBatches
from looplab.errors import ConfigError
from looplab.loop import Callback, History, LoopState, StopTraining
from looplab.loop.protocols import LossFn
from looplab.models import TaskLoss
from looplab.task import Task

ROWS, BATCH = 100, 8  # 13 batches an epoch, the last one of 4 rows


def data(task: Task) -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    X = torch.randn(ROWS, 4, generator=g)  # (rows, 4)
    score = X @ torch.tensor([1.0, -2.0, 0.5, 0.0])  # (rows,)
    if task == "regression":
        y = score + 0.1 * torch.randn(ROWS, generator=g)
    elif task == "binary":
        y = (score > 0).float()
    else:
        y = torch.bucketize(score, torch.tensor([-1.0, 1.0]))  # 3 classes
    return TensorDataset(X, y)


def network(task: Task) -> nn.Module:
    """A small MLP with dropout (it draws from torch's global generator every step)."""
    outputs = 3 if task == "multiclass" else 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layers = [nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, outputs)]
    if task == "regression":  # nn.MSELoss wants (batch,) for targets of shape (batch,)
        layers.append(nn.Flatten(0))
    return nn.Sequential(*layers)


LOSSES: dict[Task, Callable[[], LossFn]] = {
    "regression": nn.MSELoss,  # torch's own loss
    "binary": lambda: TaskLoss("binary"),
    "multiclass": nn.CrossEntropyLoss,  # torch's own loss
}


def loader(task: Task, seeded: bool) -> DataLoader[tuple[Tensor, ...]]:
    """Shuffled by its own generator, or (``seeded=False``) by torch's global one."""
    g = torch.Generator().manual_seed(0) if seeded else None
    return DataLoader(data(task), batch_size=BATCH, shuffle=True, generator=g)


def by_hand(
    model: nn.Module,
    batches: DataLoader[tuple[Tensor, ...]],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    steps: int,
) -> list[tuple[float, int]]:
    """The loop of the course for ``steps`` steps: each step's (loss, batch size)."""
    done: list[tuple[float, int]] = []

    def forever() -> Iterator[list[Tensor]]:
        while True:
            yield from batches

    model.train()
    for xb, yb in forever():
        if len(done) == steps:
            return done
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        done.append((loss.item(), len(yb)))
    raise AssertionError("unreachable")


class Losses(Callback):
    def __init__(self) -> None:
        self.seen: list[float] = []

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        self.seen.append(loss.item())


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(p, q) for p, q in pairs)


@pytest.mark.parametrize("seeded", [True, False], ids=["loader-generator", "global-generator"])
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_the_kernel_takes_the_steps_of_the_hand_written_loop(task: Task, seeded: bool) -> None:
    epochs = 3
    torch.manual_seed(7)
    model = network(task)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = Losses()
    history = loop.fit(
        model,
        LoaderBatches(loader(task, seeded)),
        LOSSES[task](),
        optimizer,
        epochs=epochs,
        task=task,
        callbacks=[losses],
    )
    torch.manual_seed(7)
    twin = network(task)
    twin_optimizer = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    steps = by_hand(twin, loader(task, seeded), LOSSES[task](), twin_optimizer, 13 * epochs)
    assert same_weights(model, twin)
    assert losses.seen == [loss for loss, _ in steps]  # bitwise: the same batches, same masks
    for epoch, row in enumerate(history, start=1):  # the epoch loss weighs each batch by size
        part = steps[13 * (epoch - 1) : 13 * epoch]
        expected = sum(loss * n for loss, n in part) / ROWS
        assert row["train_loss"] == pytest.approx(expected, rel=1e-12, abs=0)
    assert not same_weights(model, network(task))  # it did train


def test_patience_without_validation_data_is_refused_in_one_line() -> None:
    model = network("binary")
    before = [p.detach().clone() for p in model.parameters()]

    class Starts(Callback):
        started = False

        def on_fit_start(self, state: LoopState) -> None:
            self.started = True

    starts = Starts()
    with pytest.raises(ConfigError) as info:
        loop.fit(
            model,
            LoaderBatches(loader("binary", seeded=True)),
            TaskLoss("binary"),
            torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=3,
            task="binary",
            callbacks=[starts],
            patience=2,
        )
    assert str(info.value) == "early stopping (patience) needs validation data: give val_batches"
    assert not starts.started
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters(), strict=True))


def test_stop_training_from_a_batch_ends_the_fit_cleanly_after_that_step() -> None:
    """Raised after step 17 (epoch 2, batch 4): the fit returns the one finished epoch, calls
    ``on_fit_end`` with it, and the weights are those of exactly 17 hand-written steps."""

    class StopAt(Callback):
        def __init__(self) -> None:
            self.events: list[str] = []
            self.ended_with: History | None = None

        def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
            if state.step == 17:
                raise StopTraining

        def on_epoch_end(self, state: LoopState, epoch: int, row: dict[str, float]) -> None:
            self.events.append(f"epoch_end {epoch}")

        def on_fit_end(self, state: LoopState, history: History) -> None:
            self.events.append("fit_end")
            self.ended_with = history

    torch.manual_seed(7)
    model, stop = network("multiclass"), StopAt()
    history = loop.fit(
        model,
        LoaderBatches(loader("multiclass", seeded=True)),
        nn.CrossEntropyLoss(),
        torch.optim.Adam(model.parameters(), lr=0.01),
        epochs=5,
        task="multiclass",
        callbacks=[stop],
    )
    assert stop.events == ["epoch_end 1", "fit_end"] and stop.ended_with is history
    assert [row["epoch"] for row in history] == [1.0]
    torch.manual_seed(7)
    twin = network("multiclass")
    twin_optimizer = torch.optim.Adam(twin.parameters(), lr=0.01)
    by_hand(twin, loader("multiclass", seeded=True), nn.CrossEntropyLoss(), twin_optimizer, 17)
    assert same_weights(model, twin)
