"""The callback that writes checkpoints: every N epochs, every N steps, on a signal, at the end.

Epoch checkpoints are written at the *start* of the next epoch: by then early stopping has
seen the finished epoch, so the saved state is one the loop can continue from exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from torch import Tensor

from looplab.files import write_atomic
from looplab.loop.events import Callback
from looplab.loop.history import History
from looplab.loop.snapshot import Snapshot, capture
from looplab.loop.state import LoopState
from looplab.watch.checkpoint import (
    checkpoint_name,
    encode,
    list_checkpoints,
    remove_temporaries,
    rotate,
)
from looplab.watch.interrupt import Interrupted


class Signals(Protocol):
    """Where the Checkpointer learns of a caught signal: a
    :class:`~looplab.watch.interrupt.SignalCatcher`, or the signal the ranks of a data-parallel
    job agreed on."""

    signum: int | None


class Stateful(Protocol):
    """A callback whose own state is part of exact resume (the layer monitor's)."""

    def state_dict(self) -> dict[str, Any]: ...


class Checkpointer(Callback):
    """Write ``ckpt-e<epoch>-b<batch>.pt`` files into ``directory`` and keep the newest ``keep``.

    ``every_epochs`` / ``every_steps`` of 0 turn that trigger off; the final checkpoint is always
    written. With ``signals``, a caught SIGINT/SIGTERM makes the next safe point write a
    checkpoint and raise :class:`Interrupted`. ``initial`` also writes one before the first
    step, so a rollback always has a state to go back to. ``extra`` entries (the run's config)
    are stored in every checkpoint beside the loop's snapshot, and so is the ``state_dict()``
    of each of ``parts`` (e.g. ``{"monitor": monitor}``), taken at the moment of the save; the
    run gives each its entry back when it resumes.

    In a data-parallel job every rank runs a Checkpointer, so that each save happens on all of
    them at the same step: ``gather`` makes the job's snapshot from each rank's (a collective),
    and only the rank with ``writes`` puts files on disk.
    """

    def __init__(
        self,
        directory: Path,
        every_epochs: int = 0,
        every_steps: int = 0,
        keep: int = 3,
        signals: Signals | None = None,
        initial: bool = False,
        extra: Mapping[str, object] | None = None,
        gather: Callable[[Snapshot], Snapshot] | None = None,
        writes: bool = True,
        parts: Mapping[str, Stateful] | None = None,
    ) -> None:
        self.directory = directory
        self.every_epochs = every_epochs
        self.every_steps = every_steps
        self.keep = keep
        self.signals = signals
        self.initial = initial
        self.extra = dict(extra or {})
        self.gather = gather
        self.writes = writes
        self.parts = dict(parts or {})
        self.last_saved: tuple[int, int] | None = None
        self.written: list[Path] = []

    def save(self, state: LoopState, finished: bool = False) -> Path:
        """Write the state now (atomically), then drop checkpoints beyond the newest ``keep``."""
        path = self.directory / checkpoint_name(state.epoch, state.batch)
        parts = {name: part.state_dict() for name, part in self.parts.items()}
        snapshot = capture(state, finished, {**self.extra, **parts})
        if self.gather is not None:
            snapshot = self.gather(snapshot)
        if self.writes:
            write_atomic(path, encode(snapshot))
            rotate(self.directory, self.keep)
        self.last_saved = (state.epoch, state.batch)
        self.written.append(path)
        return path

    def _interrupt_if_asked(self, state: LoopState) -> None:
        if self.signals is not None and self.signals.signum is not None:
            here = (state.epoch, state.batch)
            saved = self.written[-1] if self.written and self.last_saved == here else None
            raise Interrupted(self.signals.signum, saved or self.save(state))

    def on_fit_start(self, state: LoopState) -> None:
        if self.writes:
            self.directory.mkdir(parents=True, exist_ok=True)
            remove_temporaries(self.directory)
        self.last_saved = (state.epoch, state.batch)  # a resume starts from a saved state
        if self.initial and state.step == 0 and not list_checkpoints(self.directory):
            self.save(state)

    def on_epoch_start(self, state: LoopState, epoch: int) -> None:
        self._interrupt_if_asked(state)
        due = self.every_epochs > 0 and state.epoch > 0 and state.epoch % self.every_epochs == 0
        if due and self.last_saved != (state.epoch, state.batch):
            self.save(state)

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if self.every_steps > 0 and state.step % self.every_steps == 0:
            self.save(state)
        self._interrupt_if_asked(state)

    def on_fit_end(self, state: LoopState, history: History) -> None:
        path = self.save(state, finished=True)
        if self.signals is not None and self.signals.signum is not None:
            raise Interrupted(self.signals.signum, path)
