"""Extensions of the loop through five named events, each called with explicit arguments.

The loop calls, in this order::

    on_fit_start(state)
    for each epoch:  on_epoch_start(state, epoch)
                     on_batch_end(state, epoch, batch, loss)     # after each optimizer step
                     on_epoch_end(state, epoch, row)             # after validation
    on_fit_end(state, history)

``state`` is the :class:`~looplab.loop.state.LoopState` the loop works with: callbacks may
read it (a checkpoint saves it, a monitor reads the model's gradients). A callback stops
training by raising :class:`StopTraining`; it never changes the loop's variables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from torch import Tensor

from looplab.loop.history import History, Row

if TYPE_CHECKING:
    from looplab.loop.state import LoopState


class StopTraining(Exception):
    """Raised by a callback to end training after the current step; the loop ends cleanly."""


class Callback:
    """Base class with every event as a no-op: override the ones you need."""

    def on_fit_start(self, state: LoopState) -> None:
        """Before the first epoch (after a resume has restored ``state``)."""

    def on_epoch_start(self, state: LoopState, epoch: int) -> None:
        """Before the first batch of ``epoch`` (1-based)."""

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        """After the optimizer step on batch ``batch`` (0-based) whose mean loss was ``loss``."""

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        """After validation; ``row`` is the history row just appended."""

    def on_fit_end(self, state: LoopState, history: History) -> None:
        """After the last epoch, or after a :class:`StopTraining`; best weights are restored."""


class CallbackList(Callback):
    """Calls each callback in order, so the loop has one object to notify.

    An event calls only the callbacks that override it: the base class's no-op costs a call
    each batch, a visible share of a small model's step when a few callbacks are listening."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)
        self.fit_start = self.listening("on_fit_start")
        self.epoch_start = self.listening("on_epoch_start")
        self.batch_end = self.listening("on_batch_end")
        self.epoch_end = self.listening("on_epoch_end")
        self.fit_end = self.listening("on_fit_end")

    def listening(self, event: str) -> list[Callback]:
        """The callbacks, in order, whose ``event`` is not :class:`Callback`'s no-op."""
        return [cb for cb in self.callbacks if overrides(cb, event)]

    def on_fit_start(self, state: LoopState) -> None:
        for cb in self.fit_start:
            cb.on_fit_start(state)

    def on_epoch_start(self, state: LoopState, epoch: int) -> None:
        for cb in self.epoch_start:
            cb.on_epoch_start(state, epoch)

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        for cb in self.batch_end:
            cb.on_batch_end(state, epoch, batch, loss)

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        for cb in self.epoch_end:
            cb.on_epoch_end(state, epoch, row)

    def on_fit_end(self, state: LoopState, history: History) -> None:
        for cb in self.fit_end:
            cb.on_fit_end(state, history)


def overrides(callback: Callback, event: str) -> bool:
    """Whether ``callback`` does something on ``event`` (its class or the object itself
    replaces :class:`Callback`'s no-op)."""
    own = getattr(callback, "__dict__", {})  # a method set on the object itself
    return event in own or getattr(type(callback), event) is not getattr(Callback, event)
