"""Roll back on divergence: resume from the newest good checkpoint with half the learning rate.

With ``on_nan = "rollback"``, :func:`fit_with_rollback` catches the guard's :class:`Diverged`
outside ``fit``, reloads the last good checkpoint with half the learning rate and resumes, at
most :data:`MAX_ROLLBACKS` times. Every rollback is a note of the run's history.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from looplab.loop.history import History, Note
from looplab.loop.snapshot import Snapshot
from looplab.watch.checkpoint import latest_good
from looplab.watch.guard import Diverged, base_lr

MAX_ROLLBACKS = 3
ROLLBACK = "rollback"


def fit_with_rollback(
    fit_once: Callable[[Snapshot | None], History],
    checkpoints: Path,
    rolls_back: bool,
    resume: Snapshot | None = None,
) -> History:
    """``fit_once(resume)``; on :class:`Diverged`, when ``rolls_back``, resume from the newest
    good checkpoint in ``checkpoints`` with half the learning rate, at most 3 times. Each
    rollback is a note in ``history.notes`` (the progress bar prints them)."""
    rollbacks = 0
    lrs: list[float] = []
    said: list[Note] = []  # every rollback's note: a second rollback to the same checkpoint
    # restores a history that does not have the first one
    while True:
        try:
            return fit_once(resume)
        except Diverged as exc:
            if not rolls_back:
                raise
            if rollbacks == MAX_ROLLBACKS:
                tried = ", ".join(f"{lr:.4g}" for lr in lrs)
                raise Diverged(
                    f"{exc} (gave up after {MAX_ROLLBACKS} rollbacks, at lr {tried})",
                    exc.step,
                    exc.layer,
                    exc.lr,
                ) from None
            found = latest_good(checkpoints)
            rollbacks += 1
            saved = base_lr(found.payload["scheduler"], found.payload["optimizer"]["param_groups"])
            lr = exc.lr / 2  # half the rate that diverged, whatever the checkpoint had
            lrs.append(lr)
            resume = scale_lr(found.payload, lr / saved)
            note = Note(
                ROLLBACK,
                f"{rollbacks}/{MAX_ROLLBACKS}: diverged at step {exc.step}; restored "
                f"{found.path.name} (step {found.payload['step']}) and halved the learning rate "
                f"to {lr:.4g}",
                step=exc.step,
                numbers={"lr": lr, "restored_step": float(found.payload["step"])},
            )
            said.append(note)
            history = dict(resume["history"])
            kept = [n for n in history.get("notes", []) if n.get("kind") != ROLLBACK]
            history["notes"] = [*kept, *(n.to_dict() for n in said)]
            resume["history"] = history


def scale_lr(payload: Snapshot, factor: float) -> Snapshot:
    """A copy of ``payload`` whose optimizer and scheduler use ``factor`` times the learning rate
    (a rollback halves it). The config is left as it was: it records what the user asked for."""
    out = dict(payload)
    out["optimizer"] = _scale_lrs(payload["optimizer"], factor)
    if isinstance(payload.get("scheduler"), dict):
        out["scheduler"] = _scale_lrs(payload["scheduler"], factor)
    return out


# Where optimizers and schedulers (torch's and looplab's) keep learning rates: the groups' lr and
# the bounds torch's schedulers recompute it from (initial_lr, max_lr, min_lr for one-cycle),
# and the schedulers' base_lrs / _last_lr, also inside SequentialLR's child schedulers.
_LR_KEYS = frozenset({"lr", "initial_lr", "max_lr", "min_lr", "base_lrs", "_last_lr"})


def _scale_lrs(state: object, factor: float) -> object:
    """A copy of a state dict with every learning-rate entry, however nested, times ``factor``."""
    if isinstance(state, dict):
        return {
            k: _times(v, factor) if k in _LR_KEYS else _scale_lrs(v, factor)
            for k, v in state.items()
        }
    if isinstance(state, list):
        return [_scale_lrs(v, factor) for v in state]
    return state


def _times(value: object, factor: float) -> object:
    if isinstance(value, list):
        return [v * factor for v in value]
    return (
        value * factor if isinstance(value, float | int) and not isinstance(value, bool) else value
    )
