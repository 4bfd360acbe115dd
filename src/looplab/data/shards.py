"""One process's share of every epoch, for data-parallel training: the semantics of torch's
``DistributedSampler``, by slicing.

Every process holds the same rows and the same seeded shuffling generator, so each draws the
same permutation of the epoch. Process ``rank`` of ``world`` takes the rows at positions
``rank, rank + world, rank + 2 world, ...`` of it. Interleaving makes the ``j``-th batches of
all processes together exactly the rows of the ``j``-th batch of one process with a batch
``world`` times larger: ``perm[j B : (j + 1) B]`` for a global batch ``B``. So with
``nproc`` processes of ``B / nproc`` rows each, an epoch is the one-process epoch split up.

The shards must be equal (every process takes the same number of steps, and DDP averages the
processes' gradients with equal weights): when the rows do not divide by ``world``, the
permutation is padded with its first rows (``pad``, as ``DistributedSampler`` does; at most
``world - 1`` rows are seen twice an epoch) or, with ``drop_last``, its tail is dropped.
Validation shards need no padding: ``pad=False`` leaves them uneven and exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

from looplab.data.batches import Batches


class ShardedBatches(Batches):
    """Process ``rank`` of ``world``'s batches of ``batch_size`` rows (the local batch: the
    global batch is ``world`` times larger); everything else as :class:`Batches`, including
    the state dict, which is the same on every process."""

    def __init__(
        self,
        X: Tensor,
        y: Tensor,
        batch_size: int,
        rank: int,
        world: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        pad: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        if not 0 <= rank < world:
            raise ValueError(f"rank must be in [0, {world}), got {rank}")
        super().__init__(X, y, batch_size, shuffle=shuffle, drop_last=drop_last,
                         generator=generator)  # fmt: skip
        self.rank, self.world, self.pad = rank, world, pad
        self.batch_size = min(batch_size, self.rows)  # Batches clamped it to all the rows

    @property
    def rows(self) -> int:
        """This process's rows an epoch."""
        n, w = len(self.X), self.world
        if self.drop_last:
            return n // w
        if self.pad:
            return math.ceil(n / w)
        return len(range(self.rank, n, w))

    def __len__(self) -> int:
        rows, b = self.rows, self.batch_size
        return rows // b if self.drop_last else math.ceil(rows / b)

    def epoch(self, skip: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """This process's batches of one pass: rows ``rank::world`` of the epoch's permutation."""
        self.epoch_state = self.generator.get_state()
        n = len(self.X)
        if self.shuffle and self.batch_size * self.world < n:  # as one process of the global
            order = torch.randperm(n, generator=self.generator)  # batch would draw it
        else:
            order = torch.arange(n)
        if self.drop_last:
            order = order[: n // self.world * self.world]
        elif self.pad and n % self.world:
            order = torch.cat((order, order[: self.world - n % self.world]))
        mine = order[self.rank :: self.world].to(self.X.device)  # (rows,)
        X, y = self.X.index_select(0, mine), self.y.index_select(0, mine)  # one gather an epoch
        b = self.batch_size
        for start in range(skip * b, len(self) * b, b):
            yield X[start : start + b], y[start : start + b]
