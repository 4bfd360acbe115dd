"""Python's cyclic garbage collector, paused while a command starts.

A command's start (importing torch, ``torch._dynamo`` and matplotlib, building the model and
the optimizer) makes hundreds of thousands of objects that live until the command ends, and
the collector walked them again and again as they came: 0.64 s of the 3.9 s of CPU of
``looplab train --epochs 1`` (benchmarks/startup.py, measured with and without). Reference
counting still frees every object that is not in a cycle. The collector is back on when the
work starts (``train``: at the start of fit) or when the command ends; when it comes back
on, the objects made so far are frozen (``gc.freeze()``), so that its collections during the
work do not walk them either: importing matplotlib for the report after torch._dynamo took
0.73 s of CPU with the collector on, 0.25 s with them frozen (measured).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from looplab.loop.events import Callback

F = TypeVar("F", bound=Callable[..., Any])


class PausedCollector:
    """``with PausedCollector() as collector:`` the collector is off until ``resume()`` or the
    end of the block, and the objects it froze are unfrozen at the end; if it was off already,
    it stays off."""

    def __enter__(self) -> PausedCollector:
        self.was_on = gc.isenabled()
        self.froze = False
        gc.disable()
        return self

    def resume(self) -> None:
        """On again, the objects made so far frozen (unless someone else froze some)."""
        if self.was_on and not gc.isenabled():
            if gc.get_freeze_count() == 0:
                gc.freeze()
                self.froze = True
            gc.enable()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.resume()
        if self.froze:  # collectable again, as before the command
            gc.unfreeze()

    def on_at_fit_start(self) -> Callback:
        """A callback that turns the collector back on when training starts."""
        from looplab.loop.events import Callback
        from looplab.loop.state import LoopState

        collector = self

        class CollectorOn(Callback):
            def on_fit_start(self, state: LoopState) -> None:
                collector.resume()

        return CollectorOn()


def collector_paused(command: F) -> F:
    """A short command, run with the collector paused from start to end."""

    @functools.wraps(command)
    def paused(*args: Any, **kwargs: Any) -> Any:
        with PausedCollector():
            return command(*args, **kwargs)

    return paused  # type: ignore[return-value]
