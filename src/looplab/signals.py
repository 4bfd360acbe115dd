"""Ctrl-C and SIGTERM as looplab knows them, light enough for the CLI to load first.

:class:`Interrupted` is what a caught signal raises; :data:`EARLIER` records the signals the
console script's own handler took before a command put its
:class:`~looplab.watch.interrupt.SignalCatcher` in place (an exception raised from a signal
handler can be lost, in a garbage collection say, so a catcher that starts later takes them
over).
"""

from __future__ import annotations

import signal
from pathlib import Path

EARLIER: list[int] = []


def note_signal(signum: int) -> None:
    """Record a signal taken by a handler other than a SignalCatcher (see :data:`EARLIER`)."""
    EARLIER.append(signum)


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
