"""The scaling model's arithmetic: worked numbers by hand, and the closed form of the last
paying rank count against a search over every N by its definition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from looplab.plots.scaling import (
    last_paying_ranks,
    ring_all_reduce_seconds,
    scaling_figure,
    speedup,
    step_seconds,
)


def test_a_ring_all_reduce_moves_2_n_minus_1_over_n_gradients() -> None:
    # 4 MB at 10 Gbit/s (1.25 GB/s): 3.2 ms of bytes a gradient; a ring sends 2(N-1)/N of it
    assert ring_all_reduce_seconds(1, 4e6, 10) == 0.0
    assert ring_all_reduce_seconds(2, 4e6, 10) == pytest.approx(3.2e-3)
    assert ring_all_reduce_seconds(4, 4e6, 10) == pytest.approx(4.8e-3)
    assert ring_all_reduce_seconds(1024, 4e6, 10) == pytest.approx(2 * 1023 / 1024 * 3.2e-3)
    assert ring_all_reduce_seconds(2, 4e6, 100) == pytest.approx(0.32e-3)


def test_a_10_ms_step_with_a_4_mb_gradient_at_10_gbit_pays_up_to_2_ranks() -> None:
    # t(2) = 5 + 3.2 = 8.2 ms: speedup 1.22, efficiency 0.61; t(3) = 3.33 + 4.27 = 7.6 ms:
    # speedup 1.32, efficiency 0.44
    assert step_seconds(2, 10e-3, 4e6, 10) == pytest.approx(8.2e-3)
    assert speedup(2, 10e-3, 4e6, 10) == pytest.approx(10 / 8.2)
    assert speedup(3, 10e-3, 4e6, 10) == pytest.approx(10 / (10 / 3 + 6.4 * 2 / 3))
    assert last_paying_ranks(10e-3, 4e6, 10) == 2
    # the speedup approaches t1 / (2 G / W) = 10 / 6.4 and never passes it
    assert speedup(2**20, 10e-3, 4e6, 10) == pytest.approx(10 / 6.4, rel=1e-5)
    # a step shorter than one all-reduce: two ranks are already slower than one
    assert speedup(2, 1e-3, 4e6, 10) < 1 and last_paying_ranks(1e-3, 4e6, 10) == 1


@settings(max_examples=200, deadline=None)
@given(
    t1=st.floats(1e-5, 10.0),
    grad=st.floats(1e3, 1e10),
    gbit=st.sampled_from([1.0, 10.0, 100.0, 400.0]),
)
def test_the_last_paying_rank_count_is_the_definitions(t1: float, grad: float, gbit: float) -> None:
    last = last_paying_ranks(t1, grad, gbit)
    if last > 4096:
        return  # beyond any search worth making here
    efficiency = [speedup(n, t1, grad, gbit) / n for n in range(1, 4098)]
    # efficiency falls with N: the last N at or above one half, by search (with float slack)
    searched = max(n for n, e in enumerate(efficiency, start=1) if e >= 0.5 - 1e-12)
    assert abs(searched - last) <= 1 and efficiency[last - 1] >= 0.5 - 1e-9
    assert efficiency[last] < 0.5 + 1e-9


def test_the_figure_has_a_panel_a_model_a_line_a_bandwidth_and_a_row_a_rank_at_least() -> None:
    fig = scaling_figure({"small": (1e-3, 1348, 32), "wide": (0.06, 4_460_000, 4096)},
                         gbits=(1, 10))  # fmt: skip
    assert len(fig.axes) == 2
    small = fig.axes[0].get_lines()[0]  # at most one row a rank: N up to the global batch
    assert np.asarray(small.get_xdata(), dtype=float).tolist() == [1, 2, 4, 8, 16, 32]
    lines = fig.axes[1].get_lines()
    labels = [line.get_label() for line in lines]
    assert labels[:2] == ["ideal (no all-reduce)", "1 Gbit/s"]
    ranks, speedups = (np.asarray(xs, dtype=float).tolist() for xs in lines[1].get_data())
    assert ranks[:3] == [1, 2, 4] and ranks[-1] == 1024
    assert speedups[1] == pytest.approx(speedup(2, 0.06, 4_460_000, 1))
