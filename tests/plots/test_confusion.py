"""The confusion matrix counts what scikit-learn's ``confusion_matrix`` counts (the oracle)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from looplab.plots.confusion import confusion_matrix, count_pairs


@settings(max_examples=100, deadline=None)
@given(k=st.integers(2, 12), n=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
def test_counts_are_sklearns(k: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
    expected = sk_confusion_matrix(y_true, y_pred, labels=list(range(k)))
    np.testing.assert_array_equal(count_pairs(y_true, y_pred, k), expected)


def test_each_cell_shows_its_count() -> None:
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 2])
    fig = confusion_matrix(y_true, y_pred, ["a", "b", "c"], "t")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["1", "1", "0", "0", "2", "1", "0", "0", "1"]  # row by row
