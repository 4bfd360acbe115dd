"""The R^2 in the predicted-vs-true figure is scikit-learn's ``r2_score`` (the oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import r2_score

from looplab.plots.predictions import r_squared


@settings(max_examples=100, deadline=None)
@given(n=st.integers(2, 200), seed=st.integers(0, 2**32 - 1), noise=st.floats(0.0, 3.0))
def test_r_squared_is_sklearns(n: int, seed: int, noise: float) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=n).astype(np.float32)
    predicted = truth + noise * rng.normal(size=n).astype(np.float32)
    assert r_squared(truth, predicted) == pytest.approx(
        r2_score(truth, predicted), rel=1e-5, abs=1e-6
    )


def test_a_constant_target_is_1_when_exact_else_0_as_in_sklearn() -> None:
    truth = np.full(5, 2.0)
    assert r_squared(truth, truth.copy()) == r2_score(truth, truth) == 1.0
    assert r_squared(truth, truth + 1) == r2_score(truth, truth + 1) == 0.0
