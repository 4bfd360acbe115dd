"""The weight average a config asks for (``ema_decay``, ``swa_start``), as a callback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from looplab.config import Config
from looplab.watch.averaging import WeightAverage


def weight_average(
    config: Config, resume: Mapping[str, Any] | None = None, swap_at_end: bool = True
) -> WeightAverage | None:
    """EMA of the weights (``ema_decay`` > 0) or SWA (``swa_start`` > 0), else None; ``resume``
    (a checkpoint's payload) brings back the average it saved; ``swap_at_end`` off leaves the
    swap to the caller (:meth:`WeightAverage.swap`)."""
    saved = resume.get("average") if resume is not None else None
    if config.ema_decay > 0:
        return WeightAverage("ema", decay=config.ema_decay, resume=saved,
                             swap_at_end=swap_at_end)  # fmt: skip
    if config.swa_start > 0:
        return WeightAverage("swa", start=config.swa_start, swa_lr=config.lr, resume=saved,
                             swap_at_end=swap_at_end)  # fmt: skip
    return None
