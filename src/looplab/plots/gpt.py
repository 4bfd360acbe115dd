"""A language model's loss curves against updates, with the text's baselines as lines."""

from __future__ import annotations

import math
from collections.abc import Mapping

from matplotlib.figure import Figure

from looplab.loop.history import History
from looplab.plots.style import PALETTE, new_figure, wrapped

BASELINE_STYLES = (":", "--", "-.")


def gpt_loss_curves(
    history: History,
    eval_every: int,
    baselines: Mapping[str, float],
    title: str,
    initial: float | None = None,
) -> Figure:
    """Training loss (mean over each epoch's ``eval_every`` updates, drawn at the epoch's end)
    and held-out loss per update, from ``initial`` (the untrained model's, at update 0) when it
    is known; each of ``baselines`` (label -> nats per character) is a horizontal line."""
    fig, ax = new_figure()
    updates = [e * eval_every for e in history.column("epoch")]
    train = history.column("train_loss")
    ax.plot(updates, train, color=PALETTE[0],
            label=f"training loss (mean of the {eval_every} updates before)")  # fmt: skip
    val = history.column("val_loss")
    if initial is not None:
        updates, val = [0.0, *updates], [initial, *val]
    if any(math.isfinite(v) for v in val):
        ax.plot(updates, val, "o-", ms=3, color=PALETTE[1], label="held-out loss")
    for (label, value), style in zip(baselines.items(), BASELINE_STYLES, strict=False):
        ax.axhline(value, ls=style, color="0.35", lw=1)
        ax.annotate(f"{label} {value:.3f}", (1.0, value), xycoords=("axes fraction", "data"),
                    xytext=(-4, 3), textcoords="offset points", ha="right", fontsize=8,
                    color="0.25")  # fmt: skip
    ax.set_xlabel("update (iteration)")
    ax.set_ylabel("loss (nats per character)")
    ax.set_xlim(left=0)
    ax.set_title(wrapped(title))
    ax.legend(loc="upper center")
    return fig
