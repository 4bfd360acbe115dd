"""looplab's splits are scikit-learn's ``train_test_split``, row for row (the oracle), and say why
when a part would be empty."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import train_test_split

from looplab.data.shuffle_split import SplitSizeError, shuffled_split, stratified_split


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(2, 400),
    fraction=st.floats(0.01, 0.9),
    seed=st.integers(0, 2**32 - 1),
    offset=st.integers(0, 50),
)
def test_shuffled_split_is_sklearns(n: int, fraction: float, seed: int, offset: int) -> None:
    rows = np.arange(offset, offset + n)
    try:
        expected = train_test_split(rows, test_size=fraction, random_state=seed)
    except ValueError:
        with pytest.raises(SplitSizeError, match="leaves none to train on"):
            shuffled_split(rows, fraction, seed)
        return
    kept, off = shuffled_split(rows, fraction, seed)
    np.testing.assert_array_equal(kept, expected[0])
    np.testing.assert_array_equal(off, expected[1])


@settings(max_examples=150, deadline=None)
@given(
    counts=st.lists(st.integers(2, 60), min_size=2, max_size=7),
    fraction=st.floats(0.05, 0.8),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_stratified_split_is_sklearns(
    counts: list[int], fraction: float, seed: int, data: st.DataObject
) -> None:
    labels = np.repeat(np.arange(len(counts)), counts)
    order = data.draw(st.permutations(list(range(len(labels)))))
    labels = labels[np.asarray(order)]  # classes interleaved in any order
    rows = np.arange(len(labels)) * 3  # rows are not positions
    try:
        expected = train_test_split(rows, test_size=fraction, random_state=seed, stratify=labels)
    except ValueError:
        with pytest.raises(SplitSizeError):
            stratified_split(rows, labels, fraction, seed)
        return
    kept, off = stratified_split(rows, labels, fraction, seed)
    np.testing.assert_array_equal(kept, expected[0])
    np.testing.assert_array_equal(off, expected[1])


def test_remainders_tied_between_classes_are_drawn_as_sklearn_draws_them() -> None:
    # 3 classes of 7 rows, 10 split off: 3.33 each, one extra row goes to one of three tied
    # classes, drawn at random; across seeds each class gets it some time
    labels = np.repeat(np.arange(3), 7)
    rows = np.arange(21)
    winners = set()
    for seed in range(30):
        _, off = stratified_split(rows, labels, 10 / 21, seed)
        _, expected = train_test_split(rows, test_size=10 / 21, random_state=seed, stratify=labels)
        np.testing.assert_array_equal(off, expected)
        winners.add(int(np.argmax(np.bincount(labels[off], minlength=3))))
    assert winners == {0, 1, 2}


def test_a_part_smaller_than_the_classes_is_refused() -> None:
    labels = np.repeat(np.arange(6), 3)  # 18 rows, 6 classes: 20 % is 4 rows
    with pytest.raises(SplitSizeError, match="a part of 4 rows cannot hold 6 classes"):
        stratified_split(np.arange(18), labels, 0.2, seed=0)
    with pytest.raises(SplitSizeError, match="only 1 row"):
        stratified_split(np.arange(3), np.array([0, 0, 1]), 0.5, seed=0)
