"""Batches: the three regimes, reshuffling, drop_last, resuming mid-epoch, torch datasets."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from looplab.data import Batches, LoaderBatches, Split, make_batches


def data(n: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.arange(n, dtype=torch.float32).unsqueeze(1)  # (n, 1): row i holds i
    return X, torch.arange(n)


@pytest.mark.parametrize(("batch_size", "sizes"), [(1, [1] * 10), (4, [4, 4, 2]), (10, [10])])
def test_regimes_cover_every_row_once(batch_size: int, sizes: list[int]) -> None:
    X, y = data()
    batches = Batches(X, y, batch_size, generator=torch.Generator().manual_seed(0))
    epoch = list(batches.epoch())
    assert [len(xb) for xb, _ in epoch] == sizes == [len(yb) for _, yb in epoch]
    assert len(batches) == len(sizes)
    seen = torch.cat([xb[:, 0] for xb, _ in epoch]).long()
    assert sorted(seen.tolist()) == list(range(10))
    for xb, yb in epoch:  # features and targets stay paired
        assert torch.equal(xb[:, 0].long(), yb)


def test_each_epoch_reshuffles_and_the_seed_repeats_the_order() -> None:
    X, y = data(100)

    def orders(seed: int) -> list[list[int]]:
        b = Batches(X, y, 10, generator=torch.Generator().manual_seed(seed))
        return [torch.cat([yb for _, yb in b.epoch()]).tolist() for _ in range(3)]

    first = orders(0)
    assert first[0] != first[1] != first[2]
    assert orders(0) == first
    assert orders(1) != first


def test_drop_last_drops_the_short_batch() -> None:
    X, y = data()
    b = Batches(X, y, 4, drop_last=True)
    assert [len(xb) for xb, _ in b.epoch()] == [4, 4]
    assert len(b) == 2


def test_skip_resumes_an_epoch_with_the_same_permutation() -> None:
    X, y = data(20)
    b = Batches(X, y, 3, generator=torch.Generator().manual_seed(5))
    b.epoch_state = b.generator.get_state()
    full = [yb.tolist() for _, yb in b.epoch()]
    b.generator.set_state(b.epoch_state)
    rest = [yb.tolist() for _, yb in b.epoch(skip=4)]
    assert rest == full[4:]


def test_full_batch_is_the_whole_split_without_a_copy() -> None:
    X, y = data()
    b = make_batches(Split(X, y), "full")
    [(xb, _)] = list(b.epoch())
    assert xb.data_ptr() == X.data_ptr()  # a view: nothing gathered for one batch


def test_torch_dataset_and_dataloader_are_accepted() -> None:
    X, y = data(12)
    from_dataset = make_batches(TensorDataset(X, y), 5, generator=torch.Generator().manual_seed(0))
    assert isinstance(from_dataset, LoaderBatches)
    assert [len(yb) for _, yb in from_dataset.epoch()] == [5, 5, 2]
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    from_loader = make_batches(loader, 999)
    assert [yb.tolist() for _, yb in from_loader.epoch(skip=1)] == [[4, 5, 6, 7], [8, 9, 10, 11]]


def test_every_epoch_refills_one_buffer() -> None:
    """Shuffled batches are views of one buffer made once: no new copy of the data per epoch."""
    X, y = data(100)
    b = Batches(X, y, 10, generator=torch.Generator().manual_seed(0))
    starts = [min(xb.data_ptr() for xb, _ in b.epoch()) for _ in range(3)]
    assert b.buffers is not None and len(b.buffers[0]) == 100
    assert starts == [b.buffers[0].data_ptr()] * 3
    assert starts[0] != X.data_ptr()  # a gathered copy, not the data itself


@pytest.mark.parametrize(("batch", "drop_last"), [(10, False), (7, False), (7, True)])
def test_large_data_is_gathered_a_part_at_a_time_in_the_same_order(
    batch: int, drop_last: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from looplab.data import batches as module

    X, y = data(100)  # a row is 4 + 8 bytes

    def one(b: Batches, skip: int = 0) -> list[list[int]]:
        seen = []
        for xb, yb in b.epoch(skip=skip):  # each batch used before the next, as fit does
            assert torch.equal(xb[:, 0].long(), yb)  # rows and targets stay paired
            seen.append(yb.tolist())
        return seen

    def epochs(skip: int) -> list[list[list[int]]]:
        b = Batches(X, y, batch, drop_last=drop_last, generator=torch.Generator().manual_seed(3))
        first = one(b)
        state = b.generator.get_state()
        second = one(b)
        b.generator.set_state(state)  # the second epoch again, resumed after `skip` batches
        return [first, second, one(b, skip)]

    whole = epochs(skip=5)
    monkeypatch.setattr(module, "GATHER_BYTES", 12 * 25)  # room for 25 rows: whole batches
    parts = epochs(skip=5)
    assert parts == whole and parts[2] == whole[1][5:]
    b = Batches(X, y, batch, generator=torch.Generator())
    next(iter(b.epoch()))
    assert b.buffers is not None and len(b.buffers[0]) == 25 // batch * batch
    assert sum(len(yb) for yb in parts[0]) == (100 // batch * batch if drop_last else 100)
