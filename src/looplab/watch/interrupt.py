"""Ctrl-C and SIGTERM: finish the current step, checkpoint, and leave with the usual exit code.

:class:`SignalCatcher` only records the first signal; the :class:`~looplab.watch.checkpointer.
Checkpointer` sees it after the step, writes a checkpoint and raises :class:`Interrupted`.
A second signal raises at once: checkpoints are written atomically, so leaving in the middle of
one keeps the last good checkpoint intact.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING

from looplab.loop.events import Callback
from looplab.signals import EARLIER, Interrupted, note_signal

if TYPE_CHECKING:
    from torch import Tensor

    from looplab.loop.state import LoopState

CAUGHT = (signal.SIGINT, signal.SIGTERM)
# what signal.signal takes and returns: a function, SIG_DFL / SIG_IGN, or None (not set from
# Python)
Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class SignalCatcher:
    """Within ``with SignalCatcher() as signals:``, SIGINT and SIGTERM set ``signals.signum``
    instead of stopping the process; a second one raises :class:`Interrupted` immediately.

    With ``immediate`` (while a command only checks its input: there is nothing to keep yet)
    the first signal raises at once too. The flag is set either way: an exception raised from a
    signal handler can be lost (it may land in a garbage collection, or in a library's
    ``except BaseException``), so the command also checks :meth:`raise_if_caught` at its next
    safe point."""

    def __init__(self, immediate: bool = False) -> None:
        self.signum: int | None = None
        self.run_dir: Path | None = None  # the run being trained, once it has a directory
        self.immediate = immediate
        self._previous: dict[int, Handler] = {}  # the handlers to put back

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        if self.immediate or not first:
            raise Interrupted(signum)  # nothing to keep, or a second signal: leave now

    def raise_if_caught(self) -> None:
        """Raise :class:`Interrupted` if a signal came (a safe point of the command)."""
        if self.signum is not None:
            raise Interrupted(self.signum)

    def __enter__(self) -> SignalCatcher:
        for sig in CAUGHT:
            self._previous[sig] = signal.signal(sig, self._handle)
        if EARLIER and self.signum is None:  # it came before this catcher: take it over
            self.signum = EARLIER[-1]
            if self.immediate:
                self.__exit__(None, None, None)
                raise Interrupted(self.signum)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


class StopOnSignal(Callback):
    """Raise :class:`Interrupted` at the next step once ``signals`` caught one: for runs that
    keep no checkpoint (a comparison's, a sweep's point), which stop at once and lose only the
    run in progress; what the command finished before is kept by the command."""

    def __init__(self, signals: SignalCatcher) -> None:
        self.signals = signals

    def check(self) -> None:
        if self.signals.signum is not None:
            raise Interrupted(self.signals.signum)

    def on_epoch_start(self, state: LoopState, epoch: int) -> None:
        self.check()

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        self.check()


__all__ = [
    "CAUGHT",
    "EARLIER",
    "Interrupted",
    "SignalCatcher",
    "StopOnSignal",
    "note_signal",
]
