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
