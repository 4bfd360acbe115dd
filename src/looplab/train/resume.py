"""Exact resume: everything of a :class:`LoopState` into a checkpoint payload, and back.

Bitwise-exact resume needs more than weights: the optimizer's moments, the scheduler, the
epoch's running metrics, early stopping's best state, the history, and every random number
generator: python, numpy, torch (dropout) and the generator that shuffles the batches. Mid-epoch,
the shuffling generator goes back to its state before the epoch's permutation was drawn, so
``Batches.epoch(skip=k)`` draws the same permutation and skips the ``k`` batches already done.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from looplab.config import Config, from_dict
from looplab.errors import ConfigError
from looplab.train.checkpoint import CHECKPOINT_FORMAT, Payload, read_checkpoint
from looplab.train.history import History
from looplab.train.metrics import RunningMetrics
from looplab.train.state import LoopState

# Config fields that change how a run is kept or shown, never the numbers it computes.
HARMLESS_FIELDS = frozenset(
    {
        "epochs",
        "device",
        "monitor",
        "tensorboard",
        "checkpoint_every",
        "checkpoint_steps",
        "keep_checkpoints",
        "on_nan",
        "out",
        "name",
    }
)


def capture(state: LoopState, finished: bool = False) -> Payload:
    """Everything needed to continue ``state`` exactly, as tensors and plain values.

    ``finished`` marks the checkpoint written when ``fit`` returned (training is over).
    """
    np_state: tuple[Any, ...] = tuple(np.random.get_state(legacy=True))
    batches = state.train_batches
    return {
        "format_version": CHECKPOINT_FORMAT,
        "finished": finished,
        "epoch": state.epoch,  # finished epochs
        "batch": state.batch,  # finished batches of the current epoch
        "step": state.step,
        "model": {k: v.detach().cpu().clone() for k, v in state.model.state_dict().items()},
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict() if state.scheduler is not None else None,
        "running": state.running.state_dict() if state.running is not None else None,
        "stopper": state.stopper.state_dict(),
        "history": {"rows": state.history.to_dicts(), "messages": list(state.history.messages)},
        "config": state.config.to_dict(),
        "rng": {
            "python": random.getstate(),
            "numpy": {
                "keys": torch.from_numpy(np_state[1].astype(np.int64)),  # (624,) uint32 values
                "pos": int(np_state[2]),
                "has_gauss": int(np_state[3]),
                "cached_gaussian": float(np_state[4]),
            },
            "torch": torch.get_rng_state(),
            "shuffle": batches.generator.get_state(),
            "shuffle_epoch": getattr(batches, "epoch_state", batches.generator.get_state()),
        },
    }


def restore(state: LoopState, payload: Payload) -> LoopState:
    """Put a checkpoint back into a freshly started ``state``; the next step is the one the
    interrupted run would have taken."""
    state.model.load_state_dict(payload["model"])
    state.optimizer.load_state_dict(payload["optimizer"])
    if state.scheduler is not None and payload.get("scheduler") is not None:
        state.scheduler.load_state_dict(payload["scheduler"])
    state.epoch, state.batch, state.step = payload["epoch"], payload["batch"], payload["step"]
    state.running = None
    if payload["running"] is not None:
        state.running = RunningMetrics(state.task)
        state.running.load_state_dict(payload["running"])
    state.stopper.load_state_dict(payload["stopper"])
    history = payload["history"]
    state.history = History([dict(r) for r in history["rows"]], list(history["messages"]))
    rng = payload["rng"]
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
    # Mid-epoch: rewind the shuffler to before this epoch's permutation, which is drawn again.
    shuffle = rng["shuffle_epoch"] if state.batch > 0 else rng["shuffle"]
    state.train_batches.generator.set_state(shuffle)
    return state


def resume_state(state: LoopState, resume: str | Path | Payload) -> LoopState:
    """Check that ``state.config`` may continue the checkpoint ``resume``, then restore it."""
    payload = load_payload(resume)
    check_config(payload, state.config)
    return restore(state, payload)


def load_payload(resume: str | Path | Payload) -> Payload:
    """A payload from a checkpoint file, or the payload itself."""
    return resume if isinstance(resume, dict) else read_checkpoint(resume)


def config_changes(saved: Config, new: Config) -> tuple[list[str], list[str]]:
    """Fields that differ between a checkpoint's config and the new one, as ``name (a -> b)``:
    those that would change the result, and the harmless ones."""
    old_values, new_values = saved.to_dict(), new.to_dict()
    harmful: list[str] = []
    harmless: list[str] = []
    for name in sorted(set(old_values) | set(new_values)):
        a, b = old_values.get(name), new_values.get(name)
        if a != b:
            (harmless if name in HARMLESS_FIELDS else harmful).append(f"{name} ({a!r} -> {b!r})")
    return harmful, harmless


def check_config(payload: Payload, config: Config, source: str = "the checkpoint") -> list[str]:
    """Refuse a config that would change the result of resuming; return the harmless changes."""
    saved = saved_config(payload)
    harmful, harmless = config_changes(saved, config)
    if harmful:
        raise ConfigError(
            f"cannot resume from {source}: {', '.join(harmful)} differ from the run's config and "
            "would change the result; drop those flags to resume, or start a new run"
        )
    return harmless


def saved_config(payload: Payload) -> Config:
    """The config a checkpoint was written with."""
    values: dict[str, Any] = dict(payload["config"])
    return from_dict(values)


def base_lr(scheduler_state: Any, param_groups: list[dict[str, Any]]) -> float:
    """The learning rate a run was set to: the schedule's base, else the optimizer's current.

    torch's schedulers record it as the groups' ``initial_lr`` (SequentialLR keeps no
    ``base_lrs`` of its own); looplab's as the scheduler's ``base_lrs``."""
    if "initial_lr" in param_groups[0]:
        return float(param_groups[0]["initial_lr"])
    if isinstance(scheduler_state, dict) and isinstance(scheduler_state.get("base_lrs"), list):
        return float(scheduler_state["base_lrs"][0])
    return float(param_groups[0]["lr"])


def scale_lr(payload: Payload, factor: float) -> Payload:
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


def _scale_lrs(state: Any, factor: float) -> Any:
    """A copy of a state dict with every learning-rate entry, however nested, times ``factor``."""
    if isinstance(state, dict):
        return {
            k: _times(v, factor) if k in _LR_KEYS else _scale_lrs(v, factor)
            for k, v in state.items()
        }
    if isinstance(state, list):
        return [_scale_lrs(v, factor) for v in state]
    return state


def _times(value: Any, factor: float) -> Any:
    if isinstance(value, list):
        return [v * factor for v in value]
    return (
        value * factor if isinstance(value, float | int) and not isinstance(value, bool) else value
    )


def resume_config(run_dir: Path, config_file: Path | None, overrides: dict[str, Any]) -> Config:
    """The config to resume ``run_dir`` with: its ``config.toml``, then ``config_file``, then
    the flags given now (each overriding the one before)."""
    from looplab.config import load_toml
    from looplab.errors import RunError

    if not run_dir.is_dir():
        raise RunError(
            f"cannot resume {str(run_dir)!r}: no such run directory; "
            "give one written by `looplab train` (see `looplab runs`)"
        )
    from looplab.train.checkpoint import CHECKPOINT_DIR, latest_good

    saved = run_dir / "config.toml"
    if saved.exists():
        values = load_toml(saved)
    elif (run_dir / CHECKPOINT_DIR).is_dir():
        values = dict(latest_good(run_dir / CHECKPOINT_DIR, set_aside=False).payload["config"])
    else:
        raise RunError(
            f"cannot resume {str(run_dir)!r}: it is not a looplab run directory (no config.toml, "
            "no checkpoints/); give one written by `looplab train` (see `looplab runs`)"
        )
    if config_file is not None:
        values.update(load_toml(config_file))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(values).validate()


def prepare_resume(run_dir: Path, config: Config) -> tuple[Payload, list[str]]:
    """The newest good checkpoint of ``run_dir`` that ``config`` may continue, and notes for
    the user: damaged checkpoints skipped, the resume point, harmless config changes."""
    from looplab.errors import RunError
    from looplab.runs import read_status
    from looplab.train.checkpoint import CHECKPOINT_DIR, latest_good

    found = latest_good(run_dir / CHECKPOINT_DIR)
    payload = found.payload
    notes = [f"{message}; resuming from {found.path.name}" for message in found.damaged]
    harmless = check_config(payload, config, source=str(run_dir))
    saved_epochs = saved_config(payload).epochs
    if read_status(run_dir)["status"] == "complete" and config.epochs <= saved_epochs:
        raise RunError(
            f"run {str(run_dir)!r} is already complete ({saved_epochs} epochs); to train it "
            f"longer, resume with --epochs N for some N > {saved_epochs}"
        )
    notes.append(
        f"resuming {run_dir} from {found.path.name}: {payload['epoch']} epochs and "
        f"{payload['batch']} batches done (step {payload['step']})"
    )
    if harmless:
        notes.append(f"changed on resume: {', '.join(harmless)}")
    return payload, notes


def is_done(payload: Payload, config: Config) -> bool:
    """True when ``payload`` is a final checkpoint and ``config`` asks for no more epochs: the
    run only needs its files written, not more training."""
    return bool(payload["finished"]) and config.epochs <= saved_config(payload).epochs


def restored_history(model: torch.nn.Module, payload: Payload) -> History:
    """Load a final checkpoint's weights into ``model``; return its history."""
    model.load_state_dict(payload["model"])
    history = payload["history"]
    return History([dict(r) for r in history["rows"]], list(history["messages"]))
