"""The report's learning-rate section: the schedule a run used, update by update.

Listed in :data:`looplab.report.html.SECTIONS` after the curves; None for a constant lr.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from looplab.data.split import Split
from looplab.plots.schedule import schedule_figure
from looplab.report.blocks import Section, figure_html

if TYPE_CHECKING:
    from looplab.run.result import TrainResult


def schedule_section(result: TrainResult) -> Section | None:
    """The lr of every update for clock-driven schedules (recomputed exactly), of every epoch
    for plateau (read from the history: it followed the validation loss)."""
    config, history, train = result.config, result.history, result.data.train
    if config.schedule == "constant" or len(history) == 0:
        return None
    lrs, per_epoch = history.column("lr"), 1
    if config.schedule != "plateau" and isinstance(train, Split):
        from looplab.run.schedules import lr_sequence

        size = len(train) if config.batch_size == "full" else int(config.batch_size)
        per_epoch = len(train) // size if config.drop_last else math.ceil(len(train) / size)
        lrs = lr_sequence(config, per_epoch)[: len(history) * per_epoch]
    warmup = f", warm-up {config.warmup}" if config.warmup else ""
    title = f"{config.schedule}{warmup}: lr {config.lr:g}, {config.epochs} epochs, {config.impl}"
    fig = schedule_figure({config.schedule: lrs}, per_epoch, title)
    note = f"<p>{per_epoch} updates per epoch.</p>" if per_epoch > 1 else ""
    return Section("Learning rate", figure_html(fig, f"learning rate: {title}") + note)
