"""Resuming a run: which checkpoint, whether the config may continue it, and with which config.

The loop's own state goes into a checkpoint and back through :mod:`looplab.loop.snapshot`;
this module is the run's side: a checkpoint carries the run's config, and a resume that would
change the numbers (another lr, another dataset...) is refused before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from looplab.config import BEFORE_FIELD, Config, from_dict, from_saved
from looplab.errors import ConfigError
from looplab.loop.history import History
from looplab.loop.snapshot import history_of
from looplab.watch.checkpoint import Found, Payload, read_checkpoint

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
        "data_dir",  # where the same dataset is read from
    }
)


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
    return from_saved(values)


def resume_config(run_dir: Path, config_file: Path | None, overrides: dict[str, object]) -> Config:
    """The config to resume ``run_dir`` with: its ``config.toml``, then ``config_file``, then
    the flags given now (each overriding the one before)."""
    from looplab.config import load_toml
    from looplab.errors import RunError

    if not run_dir.is_dir():
        raise RunError(
            f"cannot resume {str(run_dir)!r}: no such run directory; "
            "give one written by `looplab train` (see `looplab runs`)"
        )
    from looplab.run.directory import read_status
    from looplab.watch.checkpoint import CHECKPOINT_DIR, latest_good

    if read_status(run_dir).get("kind") == "gpt":
        raise RunError(
            f"cannot resume {str(run_dir)!r} with looplab train: it is a gpt run; resume it with "
            f"looplab gpt --resume {run_dir}"
        )
    saved = run_dir / "config.toml"
    if saved.exists():
        values = {**BEFORE_FIELD, **load_toml(saved)}  # an older run keeps its numbers
    elif (run_dir / CHECKPOINT_DIR).is_dir():
        payload = latest_good(run_dir / CHECKPOINT_DIR, set_aside=False).payload
        values = {**BEFORE_FIELD, **payload["config"]}
    else:
        raise RunError(
            f"cannot resume {str(run_dir)!r}: it is not a looplab run directory (no config.toml, "
            "no checkpoints/); give one written by `looplab train` (see `looplab runs`)"
        )
    if config_file is not None:
        values.update(load_toml(config_file))
    values.update({k: v for k, v in overrides.items() if v is not None})
    from looplab.run.checks import checked

    return checked(from_dict(values))


def prepare_resume(run_dir: Path, config: Config) -> tuple[Found, list[str]]:
    """The newest good checkpoint of ``run_dir`` that ``config`` may continue, and notes for
    the user: damaged checkpoints skipped, the resume point, harmless config changes. Reads
    only: every refusal comes before anything in the run directory changes (the caller sets
    the damaged checkpoints aside with ``found.set_aside()`` once the run goes ahead)."""
    from looplab.errors import RunError
    from looplab.run.directory import read_status
    from looplab.run.schedules import schedule_plan
    from looplab.watch.checkpoint import CHECKPOINT_DIR, latest_good

    found = latest_good(run_dir / CHECKPOINT_DIR, set_aside=False)
    payload = found.payload
    notes = [f"{message}; resuming from {found.path.name}" for message in found.damaged]
    harmless = check_config(payload, config, source=str(run_dir))
    saved_epochs = saved_config(payload).epochs
    if read_status(run_dir)["status"] == "complete" and config.epochs <= saved_epochs:
        raise RunError(
            f"run {str(run_dir)!r} is already complete ({saved_epochs} epochs); to train it "
            f"longer, resume with --epochs N for some N > {saved_epochs}"
        )
    done = int(payload["epoch"])
    if config.epochs < done:
        raise RunError(
            f"run {str(run_dir)!r} has already trained {done} epochs, more than --epochs "
            f"{config.epochs}; resume with --epochs {max(done, saved_epochs)} or more"
        )
    scheduler = payload.get("scheduler")
    if isinstance(scheduler, dict) and "looplab_plan" in scheduler:
        saved_plan, plan = scheduler["looplab_plan"], schedule_plan(config)
        if saved_plan != plan:
            raise ConfigError(
                f"cannot resume {str(run_dir)!r} with --epochs {config.epochs}: its learning-rate "
                f"schedule is {saved_plan}, and this run's would be {plan or 'constant'}; "
                f"resume with --epochs {saved_epochs} (or start a new run)"
            )
    notes.append(
        f"resuming {run_dir} from {found.path.name}: {payload['epoch']} epochs and "
        f"{payload['batch']} batches done (step {payload['step']})"
    )
    if harmless:
        notes.append(f"changed on resume: {', '.join(harmless)}")
    return found, notes


def is_done(payload: Payload, config: Config) -> bool:
    """True when ``payload`` is a final checkpoint and ``config`` asks for no more epochs: the
    run only needs its files written, not more training."""
    return bool(payload["finished"]) and config.epochs <= saved_config(payload).epochs


def restored_history(model: torch.nn.Module, payload: Payload) -> History:
    """Load a final checkpoint's weights into ``model``; return its history."""
    model.load_state_dict(payload["model"])
    return history_of(payload)
