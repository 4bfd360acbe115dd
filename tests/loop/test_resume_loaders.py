"""Exact resume of a fit over a user's ``DataLoader``: a run interrupted at any mid-epoch
checkpoint and continued in a fresh model, loader and random state ends bitwise where the
uninterrupted run ends (weights and history, timing aside).

A loader draws its shuffling (and its workers' seeds) from its own generators when it has
them, else from torch's global generator, which dropout draws from too: both must be replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, RandomSampler, TensorDataset

from looplab import loop
from looplab.data.batches import LoaderBatches
from looplab.errors import ConfigError
from looplab.loop import Callback, History, LoopState
from looplab.loop.snapshot import Snapshot, capture
from looplab.watch.checkpoint import list_checkpoints, read_checkpoint
from looplab.watch.checkpointer import Checkpointer

Loader = DataLoader[tuple[Tensor, ...]]
EPOCHS = 3  # of 12 batches: 96 rows in batches of 8

_g = torch.Generator().manual_seed(5)
X, Y = torch.randn(96, 4, generator=_g), torch.randint(0, 3, (96,), generator=_g)
X_VAL, Y_VAL = torch.randn(37, 4, generator=_g), torch.randint(0, 3, (37,), generator=_g)


class Noisy(Dataset[tuple[Tensor, Tensor]]):
    """The rows with fresh noise at every read (augmentation), from the reader's global RNG."""

    def __len__(self) -> int:
        return len(X)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return X[i] + 0.1 * torch.randn(4), Y[i]


def network() -> nn.Module:
    """An MLP with dropout: every training step draws from torch's global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


LOADERS: dict[str, Callable[[], Loader]] = {
    "global-generator": lambda: DataLoader(TensorDataset(X, Y), batch_size=8, shuffle=True),
    "own-generator": lambda: DataLoader(
        TensorDataset(X, Y), batch_size=8, shuffle=True, generator=seeded(0)
    ),
    "sampler-generator": lambda: DataLoader(
        TensorDataset(X, Y),
        batch_size=8,
        sampler=RandomSampler(TensorDataset(X, Y), generator=seeded(1)),
        generator=seeded(2),  # the workers' base seed only
    ),
    "augmented": lambda: DataLoader(Noisy(), batch_size=8, shuffle=True),
}


def fit(
    loader: Loader, callbacks: Sequence[Callback] = (), resume: Snapshot | None = None
) -> tuple[nn.Module, History]:
    """Three epochs of Adam on a fresh model, validated on a loader that shuffles too."""
    model = network()
    val = DataLoader(TensorDataset(X_VAL, Y_VAL), batch_size=5, shuffle=True, generator=seeded(3))
    history = loop.fit(
        model,
        LoaderBatches(loader),
        nn.CrossEntropyLoss(),
        torch.optim.Adam(model.parameters(), lr=0.01),
        epochs=EPOCHS,
        task="multiclass",
        val_batches=LoaderBatches(val),
        callbacks=callbacks,
        resume=resume,
    )
    return model, history


def assert_same_run(a: tuple[nn.Module, History], b: tuple[nn.Module, History]) -> None:
    (model_a, history_a), (model_b, history_b) = a, b
    assert history_a.without_timing() == history_b.without_timing()
    pairs = zip(model_a.state_dict().items(), model_b.state_dict().items(), strict=True)
    for (name, p), (_, q) in pairs:
        assert torch.equal(p, q), name


def mid_epoch_checkpoints(directory: Path) -> list[Snapshot]:
    payloads = [read_checkpoint(path) for path in list_checkpoints(directory)]
    return [p for p in payloads if p["batch"] > 0 and not p["finished"]]


@pytest.mark.parametrize("kind", LOADERS)
def test_resume_from_every_mid_epoch_checkpoint_is_bitwise_the_uninterrupted_run(
    kind: str, tmp_path: Path
) -> None:
    torch.manual_seed(1)
    uninterrupted = fit(LOADERS[kind](), [Checkpointer(tmp_path, every_steps=7, keep=100)])
    snapshots = mid_epoch_checkpoints(tmp_path)
    # steps 7, 14, 21, 28, 35: inside epochs 1, 2, 2, 3, 3
    assert [(s["epoch"], s["batch"]) for s in snapshots] == [
        (0, 7),
        (1, 2),
        (1, 9),
        (2, 4),
        (2, 11),
    ]
    for snapshot in snapshots:
        torch.manual_seed(12345)  # a fresh process: the resume must not lean on the global state
        assert_same_run(fit(LOADERS[kind](), resume=snapshot), uninterrupted)


def test_resume_with_loader_workers_is_exact(tmp_path: Path) -> None:
    """Workers are seeded from a base seed the loader draws when an epoch's iterator is made:
    replaying that draw replays the workers' augmentation."""

    def make() -> Loader:
        return DataLoader(Noisy(), batch_size=8, shuffle=True, num_workers=1)

    torch.manual_seed(1)
    uninterrupted = fit(make(), [Checkpointer(tmp_path, every_steps=16, keep=100)])
    (snapshot,) = [s for s in mid_epoch_checkpoints(tmp_path) if s["epoch"] == 1]  # step 16
    torch.manual_seed(12345)
    assert_same_run(fit(make(), resume=snapshot), uninterrupted)


def test_persistent_workers_are_refused_at_resume_and_nothing_changes(tmp_path: Path) -> None:
    """Persistent workers keep their random state from epoch to epoch, where no checkpoint
    sees it: such a loader trains, but a resume is refused before it touches the model."""

    def make() -> Loader:
        return DataLoader(
            Noisy(), batch_size=8, shuffle=True, num_workers=1, persistent_workers=True
        )

    fit(make(), [Checkpointer(tmp_path, every_steps=16, keep=100)])
    snapshot = mid_epoch_checkpoints(tmp_path)[0]
    model = network()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ConfigError) as info:
        loop.fit(
            model,
            LoaderBatches(make()),
            nn.CrossEntropyLoss(),
            torch.optim.Adam(model.parameters()),
            epochs=EPOCHS,
            task="multiclass",
            resume=snapshot,
        )
    assert str(info.value) == (
        "a DataLoader with persistent_workers cannot resume exactly (its workers' random state "
        "is not saved): make it with persistent_workers=False"
    )
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_loader_made_differently_is_refused_at_resume(tmp_path: Path) -> None:
    fit(LOADERS["sampler-generator"](), [Checkpointer(tmp_path, every_steps=16, keep=100)])
    snapshot = mid_epoch_checkpoints(tmp_path)[0]
    with pytest.raises(ConfigError, match=r"^the checkpoint's DataLoader drew from 2 generator"):
        fit(LOADERS["own-generator"](), resume=snapshot)


class Snapshots(Callback):
    """Keeps in memory what :func:`capture` returns at the given steps."""

    def __init__(self, *steps: int) -> None:
        self.steps, self.taken = steps, list[Snapshot]()

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if state.step in self.steps:
            self.taken.append(capture(state))


def test_a_snapshot_captured_in_a_callback_resumes_exactly_and_more_than_once() -> None:
    """``capture`` copies the optimizer's moments (torch hands out its live tensors) and a
    resume copies them back, so a kept snapshot neither drifts with the run nor with a resume."""
    snapshots = Snapshots(10, 30)
    torch.manual_seed(1)
    uninterrupted = fit(LOADERS["global-generator"](), [snapshots])
    for snapshot in snapshots.taken:
        for _ in range(2):
            torch.manual_seed(12345)
            assert_same_run(fit(LOADERS["global-generator"](), resume=snapshot), uninterrupted)
