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

CAUGHT = (signal.SIGINT, signal.SIGTERM)
# what signal.signal takes and returns: a function, SIG_DFL / SIG_IGN, or None (not set from
# Python)
Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class Interrupted(KeyboardInterrupt):
    """Training stopped on a signal; ``checkpoint`` is where it can resume from (None when a
    second signal cut it short). Exit code 128 + signal: 130 for SIGINT, 143 for SIGTERM."""

    def __init__(self, signum: int, checkpoint: Path | None = None) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.checkpoint = checkpoint

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class SignalCatcher:
    """Within ``with SignalCatcher() as signals:``, SIGINT and SIGTERM set ``signals.signum``
    instead of stopping the process; a second one raises :class:`Interrupted` immediately."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.run_dir: Path | None = None  # the run being trained, once it has a directory
        self._previous: dict[int, Handler] = {}  # the handlers to put back

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise Interrupted(signum)  # second signal: leave now
        self.signum = signum

    def __enter__(self) -> SignalCatcher:
        for sig in CAUGHT:
            self._previous[sig] = signal.signal(sig, self._handle)
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
