"""Play, pause, step and stop, and the frames the page sees: two callbacks on looplab's loop.

``fit`` knows nothing of the playground. :class:`RunControl` is asked after every batch
whether to go on: it blocks there while paused, lets one batch through per step, and ends the
run (``StopTraining``) when asked to stop or when the loss is no longer finite.
:class:`FramePublisher` makes a frame (``frames.py``) at most every ``interval`` seconds and
whenever the run pauses or ends.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from torch import Tensor

from looplab.loop.events import Callback, StopTraining
from looplab.loop.history import History
from looplab.loop.state import LoopState


class RunControl(Callback):
    """Between batches: go on, wait (paused), or stop. ``step(k)`` runs ``k`` more batches then
    pauses; ``on_pause`` is called (in the training thread) each time the run comes to rest."""

    def __init__(self, on_pause: Callable[[LoopState], None], steps: int | None = None) -> None:
        self._changed = threading.Condition()
        self._paused = False
        self._steps_left = steps  # None: run on
        self._stop = False
        self.diverged = False
        self.on_pause = on_pause

    # ---- asked by the session (any thread) ----------------------------------------------

    def play(self) -> None:
        with self._changed:
            self._paused, self._steps_left = False, None
            self._changed.notify_all()

    def pause(self) -> None:
        with self._changed:
            self._paused = True

    def step(self, count: int = 1) -> None:
        with self._changed:
            self._paused, self._steps_left = False, count
            self._changed.notify_all()

    def stop(self) -> None:
        with self._changed:
            self._stop = True
            self._changed.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    # ---- the loop's event (training thread) ---------------------------------------------

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if not math.isfinite(float(loss.detach())):
            self.diverged = True  # the diagnoses have said why; nothing more to learn
            raise StopTraining
        with self._changed:
            if self._steps_left is not None:
                self._steps_left -= 1
                if self._steps_left <= 0:
                    self._paused, self._steps_left = True, None
            paused = self._paused and not self._stop
        if paused:
            self.on_pause(state)
        with self._changed:
            while self._paused and not self._stop:
                self._changed.wait()
            if self._stop:
                raise StopTraining


class FramePublisher(Callback):
    """Calls ``publish(state)`` at the start, at most every ``interval`` seconds while training
    (or ``stretch`` x the time a frame takes, so drawing never eats the run), and at the end."""

    def __init__(
        self, publish: Callable[[LoopState], None], interval: float = 0.04, stretch: float = 4.0
    ) -> None:
        self.publish = publish
        self.interval = interval
        self.stretch = stretch
        self.state: LoopState | None = None
        self._last = 0.0
        self._cost = 0.0

    def on_fit_start(self, state: LoopState) -> None:
        self.state = state
        self._now(state)

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if time.perf_counter() - self._last >= max(self.interval, self.stretch * self._cost):
            self._now(state)

    def on_fit_end(self, state: LoopState, history: History) -> None:
        self._now(state)

    def _now(self, state: LoopState) -> None:
        started = time.perf_counter()
        self.publish(state)
        self._last = time.perf_counter()
        self._cost = self._last - started
