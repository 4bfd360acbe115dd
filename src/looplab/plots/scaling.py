r"""When adding data-parallel ranks pays: a two-term model of one step on :math:`N` ranks.

A global batch split over :math:`N` ranks costs each rank :math:`t_1 / N` of compute (the
ideal split of the one-rank step time :math:`t_1`), then a ring all-reduce of the gradient's
:math:`G` bytes at bandwidth :math:`W`: every rank sends and receives :math:`2 (N-1)/N \cdot G`
bytes, so

.. math:: t(N) = \frac{t_1}{N} + \frac{2 (N-1)}{N} \frac{G}{W}, \qquad
          S(N) = \frac{t_1}{t(N)} \to \frac{t_1 W}{2 G}.

The efficiency :math:`S(N)/N = t_1 / (t_1 + (N-1)\,a)` with :math:`a = 2G/W` falls below one
half once :math:`N > 1 + t_1 / a`: past that rank each added one does less than half a rank's
work. Latency per message and overlap of the all-reduce with the backward are left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from looplab.plots.style import DPI, LINE_COLOURS

BYTES_PER_GBIT = 1e9 / 8  # one Gbit/s carries 125 MB a second


def ring_all_reduce_seconds(ranks: int, gradient_bytes: float, gbit_per_s: float) -> float:
    r"""Time of a ring all-reduce: :math:`2 (N-1)/N \cdot G / W` (0 on one rank)."""
    return 2 * (ranks - 1) / ranks * gradient_bytes / (gbit_per_s * BYTES_PER_GBIT)


def step_seconds(ranks: int, one_rank_s: float, gradient_bytes: float, gbit_per_s: float) -> float:
    """One step of a global batch split over ``ranks``: compute ``one_rank_s / ranks``, then
    the gradient's all-reduce."""
    return one_rank_s / ranks + ring_all_reduce_seconds(ranks, gradient_bytes, gbit_per_s)


def speedup(ranks: int, one_rank_s: float, gradient_bytes: float, gbit_per_s: float) -> float:
    """How many times faster than one rank a step is on ``ranks``."""
    return one_rank_s / step_seconds(ranks, one_rank_s, gradient_bytes, gbit_per_s)


def last_paying_ranks(one_rank_s: float, gradient_bytes: float, gbit_per_s: float) -> int:
    """The most ranks whose efficiency (speedup / ranks) is still at least one half:
    ``floor(1 + t1 / a)`` with ``a = 2 G / W``; 1 when two ranks are already slower."""
    a = 2 * gradient_bytes / (gbit_per_s * BYTES_PER_GBIT)
    return max(1, math.floor(1 + one_rank_s / a))


def scaling_figure(
    models: Mapping[str, tuple[float, int, int]],
    gbits: Sequence[float] = (1, 10, 100),
    max_ranks: int = 1024,
) -> Figure:
    """One panel a model, ``models[name] = (one-rank step seconds, gradient bytes, global
    batch)``: the modelled speedup against the number of ranks (powers of 2 up to
    ``max_ranks``, and at most one row a rank: the global batch), log-log, at each bandwidth,
    the ideal :math:`S = N` dashed, and a dot where the efficiency falls to one half."""
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.4), dpi=DPI,
                             layout="constrained", squeeze=False)  # fmt: skip
    for ax, (name, (t1, grad, batch)) in zip(axes[0], models.items(), strict=True):
        most = min(max_ranks, batch)
        ranks = [2**k for k in range(int(math.log2(most)) + 1)]
        ax.grid(True, alpha=0.3, which="both")
        ax.plot(ranks, ranks, "k--", linewidth=1, label="ideal (no all-reduce)")
        for colour, gbit in zip(LINE_COLOURS, gbits, strict=False):
            ax.plot(ranks, [speedup(n, t1, grad, gbit) for n in ranks], color=colour,
                    linewidth=1.8, label=f"{gbit:g} Gbit/s")  # fmt: skip
            last = last_paying_ranks(t1, grad, gbit)
            if last <= ranks[-1]:
                ax.plot([last], [speedup(last, t1, grad, gbit)], "o", color=colour)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel(f"ranks N (the global batch of {batch} split N ways)")
        ax.set_ylabel("speedup over one rank")
        ax.set_title(f"{name}: step {t1 * 1e3:.3g} ms on one rank, gradient {grad / 1e6:.3g} MB")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("modelled data-parallel speedup: compute / N + ring all-reduce, bandwidth "
                 "only (dot: efficiency falls to 50%)")  # fmt: skip
    return fig
