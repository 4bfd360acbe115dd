"""Exact resume: everything of a :class:`LoopState` into a snapshot of plain values, and back.

Bitwise-exact resume needs more than weights: the optimizer's moments, the scheduler, the
epoch's running metrics, early stopping's best state, the history, and every random number
generator: python, numpy, torch (dropout) and the batches' own shuffling state (the validation
batches' too: a shuffled validation loader changes the order of the sums). Mid-epoch, the
batches go back to their state before the epoch's permutation was drawn, so
``epoch(skip=k)`` draws the same permutation and skips the ``k`` batches already done.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from looplab.loop.history import History, Note
from looplab.loop.state import LoopState

Snapshot = dict[str, Any]


def capture(
    state: LoopState, finished: bool = False, extra: Mapping[str, object] | None = None
) -> Snapshot:
    """Everything needed to continue ``state`` exactly, as tensors and plain values.

    ``finished`` marks the snapshot taken when ``fit`` returned; ``extra`` entries (a run's
    config, say) are stored beside the loop's own. Everything is copied: a torch optimizer's
    ``state_dict`` holds its live moment tensors, which the next step would change.
    """
    return {
        **(extra or {}),
        "finished": finished,
        "epoch": state.epoch,  # finished epochs
        "batch": state.batch,  # finished batches of the current epoch
        "step": state.step,
        "model": {k: v.detach().cpu().clone() for k, v in state.model.state_dict().items()},
        "optimizer": copy.deepcopy(state.optimizer.state_dict()),
        "scheduler": (
            copy.deepcopy(state.scheduler.state_dict()) if state.scheduler is not None else None
        ),
        "running": state.running.state_dict() if state.running is not None else None,
        "stopper": copy.deepcopy(state.stopper.state_dict()),
        "history": state.history.state_dict(),
        "rng": {**global_rngs(), **state.train_batches.state_dict()},
        "val_rng": state.val_batches.state_dict() if state.val_batches is not None else None,
    }


def restore(state: LoopState, snapshot: Snapshot) -> LoopState:
    """Put a snapshot back into a freshly started ``state``; the next step is the one the
    interrupted run would have taken. The batches go first: a source that cannot resume
    exactly refuses before anything else has changed. The snapshot is left as it was (torch's
    ``load_state_dict`` keeps the tensors it is given), so it can be resumed again."""
    snapshot = {**snapshot, **copy.deepcopy({k: snapshot[k] for k in COPIED if k in snapshot})}
    state.train_batches.load_state_dict(snapshot["rng"], mid_epoch=snapshot["batch"] > 0)
    if state.val_batches is not None and snapshot.get("val_rng") is not None:
        state.val_batches.load_state_dict(snapshot["val_rng"], mid_epoch=False)
    state.model.load_state_dict(snapshot["model"])
    state.optimizer.load_state_dict(snapshot["optimizer"])
    if state.scheduler is not None and snapshot.get("scheduler") is not None:
        state.scheduler.load_state_dict(snapshot["scheduler"])
    state.epoch, state.batch, state.step = snapshot["epoch"], snapshot["batch"], snapshot["step"]
    state.running = None
    if snapshot["running"] is not None:
        state.running = state.new_metrics()
        state.running.load_state_dict(snapshot["running"])
    state.stopper.load_state_dict(snapshot["stopper"])
    state.history = history_of(snapshot)
    set_global_rngs(snapshot["rng"])
    return state


COPIED = ("optimizer", "scheduler", "stopper")  # what restore copies before loading it


def history_of(snapshot: Snapshot) -> History:
    """The history a snapshot holds (older snapshots kept notes as plain message lines)."""
    saved = snapshot["history"]
    if "notes" in saved:
        return History.from_state_dict(saved)
    notes = [Note("", m) for m in saved.get("messages", [])]
    return History([dict(r) for r in saved["rows"]], notes)


def global_rngs() -> dict[str, Any]:
    """The states of python's, numpy's and torch's global random generators, and CUDA's (one
    per GPU) where CUDA is in use."""
    np_state: tuple[Any, ...] = tuple(np.random.get_state(legacy=True))
    return {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),  # (624,) uint32 values
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        **({"cuda": torch.cuda.get_rng_state_all()} if cuda_in_use() else {}),
    }


def cuda_in_use() -> bool:
    """True once this process has used CUDA (a CPU run on a GPU machine leaves it untouched)."""
    return bool(torch.cuda.is_initialized())  # type: ignore[no-untyped-call]


def set_global_rngs(rng: Mapping[str, Any]) -> None:
    """Put back what :func:`global_rngs` returned."""
    random.setstate(rng["python"])
    np_rng = rng["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_rng["keys"].numpy().astype(np.uint32),
            np_rng["pos"],
            np_rng["has_gauss"],
            np_rng["cached_gaussian"],
        )
    )
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():  # saved on a GPU machine: put it back
        states = rng["cuda"][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)
