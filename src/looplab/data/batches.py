"""Batches for the three regimes of the course: full batch, stochastic (1) and mini-batch.

In-memory tensors are batched by slicing: each epoch draws one permutation from a seeded
generator, gathers the rows in that order (``index_select``) into one buffer, then yields
contiguous views of it. That avoids the per-sample ``__getitem__`` and collate of
``DataLoader(TensorDataset)``, which dominate the cost of small models (see
``benchmarks/batches.py``). The buffer is made once and refilled every epoch, and holds at most
:data:`GATHER_BYTES` (larger data is gathered a part at a time), so shuffling never holds a
second copy of the data (``benchmarks/memory.py``). Any torch ``Dataset`` or ``DataLoader`` is
also accepted, for data that does not fit in memory.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from looplab.data.augment import Augment
from looplab.data.mixup import Mixup
from looplab.data.split import Split
from looplab.errors import ConfigError

GATHER_BYTES = 16 * 2**20  # the shuffled-rows buffer's size at most (at least one batch)


class Batches:
    """Shuffled mini-batches of in-memory tensors ``X`` (rows, ...) and ``y`` (rows, ...).

    ``batch_size`` of 1 is stochastic gradient descent and ``len(X)`` (or more) is full batch.
    ``epoch(skip=k)`` resumes an epoch after its first ``k`` batches: restore ``generator`` to
    :attr:`epoch_state` first and the same permutation is drawn again. With ``augment``, each
    epoch also draws every image's shift and rotation, right after the permutation, from the
    same generator (so a resumed epoch draws them again too).

    Shuffled batches are views of one buffer that later batches refill: use a batch before
    asking for the next (as ``fit`` does), or ``clone()`` it to keep it.
    """

    def __init__(
        self,
        X: Tensor,
        y: Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
        augment: Augment | None = None,
        mixup: Mixup | None = None,
    ) -> None:
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.X, self.y = X, y
        self.batch_size = min(batch_size, len(X))
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator if generator is not None else torch.Generator()
        self.augment = augment if augment is not None and augment.active else None
        self.mixup = mixup
        self.epoch_state: Tensor = self.generator.get_state()  # generator state before this epoch
        self.buffers: tuple[Tensor, Tensor] | None = None  # shuffled rows of X and y, reused

    def __len__(self) -> int:
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def epoch(self, skip: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """One pass over the data: ``(X_batch, y_batch)`` pairs, the last one possibly shorter."""
        self.epoch_state = self.generator.get_state()
        X, b = self.X, self.batch_size
        shuffled = self.shuffle and b < len(X)  # a full batch is the same in any order
        perm = torch.randperm(len(X), generator=self.generator).to(X.device) if shuffled else None
        # then (rows, 3) this epoch's shift and rotation of every image, in one draw
        params = self.augment.draw(len(X), self.generator) if self.augment else None
        # then each batch's mixing weight and partners
        mixes = self.mixup.draw(len(self), self.batch_size, self.generator) if self.mixup else None
        for start, xb, yb in self._slices(perm, skip):
            if self.augment is not None and params is not None:
                xb = self.augment.apply(xb, params[start : start + len(xb)])
            if self.mixup is not None and mixes is not None:
                # yb becomes (batch, classes)
                xb, yb = self.mixup.apply(xb, yb, *mixes[start // self.batch_size])
            yield xb, yb

    def _slices(self, perm: Tensor | None, skip: int) -> Iterator[tuple[int, Tensor, Tensor]]:
        """(position in the epoch, X batch, y batch) after the first ``skip`` batches, in the
        order of ``perm`` (rows,), or of the rows when None."""
        X, y, b = self.X, self.y, self.batch_size
        end = min(len(X), len(self) * b)  # rows used this epoch (drop_last leaves some out)
        if perm is None:
            for start in range(skip * b, end, b):
                yield start, X[start : start + b], y[start : start + b]
            return
        Xs, ys = self.buffers = self.buffers or self._make_buffers()
        for first in range(skip * b, end, len(Xs)):
            rows = perm[first : min(end, first + len(Xs))]
            # gather these rows in their shuffled order into the buffer (index_select: ~8x
            # faster than X[perm] on CPU, measured); the batches are views of it
            Xc = torch.index_select(X, 0, rows, out=Xs[: len(rows)])
            yc = torch.index_select(y, 0, rows, out=ys[: len(rows)])
            for start in range(0, len(rows), b):
                yield first + start, Xc[start : start + b], yc[start : start + b]

    def _make_buffers(self) -> tuple[Tensor, Tensor]:
        """Room for as many whole batches of shuffled rows as fit in GATHER_BYTES (one at least),
        or for every row."""
        X, y, b = self.X, self.y, self.batch_size
        row_bytes = X[:1].nbytes + y[:1].nbytes
        rows = min(len(X), max(1, GATHER_BYTES // (row_bytes * b)) * b)
        return X.new_empty((rows, *X.shape[1:])), y.new_empty((rows, *y.shape[1:]))

    def state_dict(self) -> dict[str, Any]:
        """The shuffling generator now, and as it was before this epoch's permutation."""
        return {"shuffle": self.generator.get_state(), "shuffle_epoch": self.epoch_state}

    def load_state_dict(self, state: dict[str, Any], mid_epoch: bool) -> None:
        """Mid-epoch, rewind to before this epoch's permutation, which is drawn again."""
        self.generator.set_state(state["shuffle_epoch"] if mid_epoch else state["shuffle"])


class LoaderBatches:
    """Batches from a torch ``Dataset`` or ``DataLoader``, with the same interface as Batches.

    A ``DataLoader`` is used as it is (its batch size, sampler and workers); a ``Dataset`` is
    wrapped in one with ``batch_size``, ``shuffle``, ``drop_last`` and ``generator``.

    Resuming mid-epoch replays the skipped batches (a streaming loader cannot seek). A loader
    draws from its own generators (the loader's ``generator``, its sampler's) when it has them,
    else from torch's global generator, when an epoch's iterator is made (the workers' base
    seed) and at its first batch (the sampler's seed). So the state dict keeps each of the
    loader's generators, and the global state at the start of each epoch: a resumed epoch makes
    its iterator and passes the skipped batches from those states, then goes on from the global
    state the interrupted run had reached.
    """

    def __init__(
        self,
        source: TorchDataset[Any] | DataLoader[Any],
        batch_size: int | None = None,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if isinstance(source, DataLoader):
            self.loader: DataLoader[Any] = source
        elif batch_size is None:
            raise TypeError("LoaderBatches needs a batch_size for a Dataset (a DataLoader has one)")
        else:
            self.loader = DataLoader(
                source,
                batch_size=batch_size,
                shuffle=shuffle,
                drop_last=drop_last,
                generator=generator if generator is not None else torch.Generator(),
            )
        self.generators = loader_generators(self.loader)
        self.epoch_states: list[Tensor] = [g.get_state() for g in self.generators]
        self.global_epoch_state: Tensor = torch.get_rng_state()
        self._replay_from: Tensor | None = None  # global state to make a resumed epoch's iterator

    def __len__(self) -> int:
        return len(self.loader)

    def epoch(self, skip: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        self.epoch_states = [g.get_state() for g in self.generators]
        replay, self._replay_from = self._replay_from, None
        if replay is None:
            self.global_epoch_state = torch.get_rng_state()
            yield from itertools.islice(self.loader, skip, None)
            return
        # Resumed mid-epoch: make the iterator and pass the skipped batches from the global
        # state the interrupted epoch started with (so the loader draws the same seeds), then
        # go on from the state the interrupted run had reached.
        now, self.global_epoch_state = torch.get_rng_state(), replay
        torch.set_rng_state(replay)
        batches = iter(self.loader)
        for _ in itertools.islice(batches, skip):
            pass
        torch.set_rng_state(now)
        yield from batches

    def state_dict(self) -> dict[str, Any]:
        """The loader's generators now and before this epoch, and the global state then."""
        return {
            "shuffle": [g.get_state() for g in self.generators],
            "shuffle_epoch": self.epoch_states,
            "global_epoch": self.global_epoch_state,
        }

    def load_state_dict(self, state: dict[str, Any], mid_epoch: bool) -> None:
        """Mid-epoch, rewind to before this epoch's iterator was made; it is made again."""
        loader = self.loader
        if loader.num_workers > 0 and loader.persistent_workers:
            raise ConfigError(
                "a DataLoader with persistent_workers cannot resume exactly (its workers' random "
                "state is not saved): make it with persistent_workers=False"
            )
        saved = state["shuffle_epoch"] if mid_epoch else state["shuffle"]
        saved = saved if isinstance(saved, list) else [saved]  # older checkpoints kept one
        if len(saved) != len(self.generators):
            raise ConfigError(
                f"the checkpoint's DataLoader drew from {len(saved)} generator(s), this one from "
                f"{len(self.generators)}: resume with a DataLoader made as the interrupted one was"
            )
        for generator, generator_state in zip(self.generators, saved, strict=True):
            generator.set_state(generator_state)
        self._replay_from = state.get("global_epoch") if mid_epoch else None


def loader_generators(loader: DataLoader[Any]) -> list[torch.Generator]:
    """The generators a loader draws from besides torch's global one, each once: its own (the
    workers' base seed), its sampler's, and the sampler's inside a user's batch sampler."""
    candidates = [
        loader.generator,
        getattr(loader.sampler, "generator", None),
        getattr(getattr(loader.batch_sampler, "sampler", None), "generator", None),
    ]
    found: list[torch.Generator] = []
    for g in candidates:
        if isinstance(g, torch.Generator) and all(g is not f for f in found):
            found.append(g)
    return found


def make_batches(
    source: Split | TorchDataset[Any] | DataLoader[Any],
    batch_size: int | str,
    *,
    shuffle: bool = True,
    drop_last: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
    augment: Augment | None = None,
    mixup: Mixup | None = None,
) -> Batches | LoaderBatches:
    """The right batcher for a source; ``batch_size="full"`` means one batch of every row.
    ``augment`` (images in memory only) shifts and rotates each training image anew each epoch;
    ``mixup`` (in memory only) mixes each batch with itself."""
    if isinstance(source, Split):
        X, y = (source.X.to(device), source.y.to(device)) if device else (source.X, source.y)
        size = len(X) if batch_size == "full" else int(batch_size)
        return Batches(X, y, size, shuffle=shuffle, drop_last=drop_last, generator=generator,
                       augment=augment, mixup=mixup)  # fmt: skip
    if (augment is not None and augment.active) or mixup is not None:
        raise ConfigError(
            "augmentation and mixup work on data in memory, not on a Dataset or DataLoader"
        )
    if batch_size == "full":
        if isinstance(source, DataLoader) or not isinstance(source, Sized):
            raise ConfigError("batch_size 'full' needs a dataset with a length; give a number")
        batch_size = len(source)
    return LoaderBatches(
        source, int(batch_size), shuffle=shuffle, drop_last=drop_last, generator=generator
    )
