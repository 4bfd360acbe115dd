"""Augmentation in the batch iterator: shifts and rotations against torch's own pad and rot90,
drawn reproducibly from the batches' generator, and resumable mid-epoch."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from looplab.data.augment import Augment
from looplab.data.batches import Batches


def images(rows: int = 6, size: int = 10) -> torch.Tensor:
    return torch.rand(rows, 1, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(("dx", "dy"), [(2, 0), (0, -1), (-3, 2)])
def test_a_shift_moves_pixels_by_whole_pixels_repeating_the_border(dx: int, dy: int) -> None:
    X = images(2)
    params = torch.tensor([[dx, dy, 0.0]] * 2)
    shifted = Augment(shift=3).apply(X, params)
    # the oracle: pad each side by 3 repeating the border, then crop the window moved by (dx, dy)
    padded = F.pad(X, (3, 3, 3, 3), mode="replicate")
    expected = padded[..., 3 - dy : 3 - dy + 10, 3 - dx : 3 - dx + 10]
    torch.testing.assert_close(shifted, expected, rtol=0, atol=1e-5)


def test_a_quarter_turn_is_rot90_counter_clockwise() -> None:
    X = images(3)
    turned = Augment(rotate=90).apply(X, torch.tensor([[0, 0, math.pi / 2]] * 3))
    torch.testing.assert_close(turned, torch.rot90(X, k=1, dims=(2, 3)), rtol=0, atol=1e-5)


def test_nothing_drawn_is_nothing_changed() -> None:
    X = images(4)
    same = Augment(shift=2, rotate=10).apply(X, torch.zeros(4, 3))
    torch.testing.assert_close(same, X, rtol=0, atol=1e-6)


def test_draws_are_seeded_bounded_and_anew_each_call() -> None:
    augment = Augment(shift=2, rotate=10)
    g = torch.Generator().manual_seed(5)
    first, second = augment.draw(1000, g), augment.draw(1000, g)
    again = augment.draw(1000, torch.Generator().manual_seed(5))
    assert torch.equal(first, again) and not torch.equal(first, second)
    assert set(first[:, :2].unique().tolist()) == {-2.0, -1.0, 0.0, 1.0, 2.0}
    assert float(first[:, 2].abs().max()) <= math.radians(10)
    assert float(first[:, 2].abs().max()) > math.radians(9)  # the whole range is used


def test_augmented_batches_differ_each_epoch_and_resume_mid_epoch() -> None:
    X, y = images(40), torch.arange(40)
    batches = Batches(X, y, 8, generator=torch.Generator().manual_seed(1),
                      augment=Augment(shift=2, rotate=10))  # fmt: skip
    epoch1 = list(batches.epoch())
    state = batches.generator.get_state()  # before epoch 2
    epoch2 = list(batches.epoch())
    assert not torch.equal(epoch1[0][0], epoch2[0][0])
    # every image is its own row, moved: the label rides along with its image
    for xb, yb in epoch1:
        assert not torch.equal(xb, X[yb])
    # resume epoch 2 after its first 3 batches: same permutation, same shifts and rotations
    batches.load_state_dict({"shuffle": state, "shuffle_epoch": state}, mid_epoch=True)
    batches.generator.set_state(state)
    tail = list(batches.epoch(skip=3))
    assert len(tail) == 2
    for (a, ya), (b, yb) in zip(tail, epoch2[3:], strict=True):
        assert torch.equal(a, b) and torch.equal(ya, yb)


def test_no_augmentation_draws_nothing() -> None:
    """Off (the default), the generator is used as before augmentation existed: old runs and
    their checkpoints reproduce."""
    X, y = images(40), torch.arange(40)
    plain = Batches(X, y, 8, generator=torch.Generator().manual_seed(1))
    off = Batches(X, y, 8, generator=torch.Generator().manual_seed(1), augment=Augment())
    for (a, ya), (b, yb) in zip(plain.epoch(), off.epoch(), strict=True):
        assert torch.equal(a, b) and torch.equal(ya, yb)
    assert torch.equal(plain.generator.get_state(), off.generator.get_state())
