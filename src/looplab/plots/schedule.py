"""Learning-rate schedules: the learning rate of every update against the epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from looplab.plots.style import new_figure


def schedule_figure(
    curves: Mapping[str, Sequence[float]], steps_per_epoch: int, title: str
) -> Figure:
    """One line per schedule: ``curves[name]`` holds the lr of each update, ``steps_per_epoch``
    updates per epoch; the lr is constant between steps, so the lines are drawn as steps."""
    fig, ax = new_figure()
    for name, lrs in curves.items():
        done = [i / steps_per_epoch for i in range(len(lrs) + 1)]  # epochs done before update i
        ax.plot(done, [*lrs, lrs[-1]], label=name, drawstyle="steps-post", linewidth=1.8)
    ax.set_xlabel("epochs completed")
    ax.set_ylabel("learning rate")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    return fig
