"""The ``looplab`` command: thin typer commands that parse flags, call the library and print.

User mistakes (:class:`looplab.errors.LooplabError`, bad flags, a disk that refuses a write)
print one line and exit 2; Ctrl-C and SIGTERM exit 130 and 143; anything else is a bug and
keeps its traceback. torch is imported only inside commands, so ``looplab --help`` is instant.
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

_IMPORTED = time.perf_counter()  # the command's start, but for Python's own (~20 ms)
started = _IMPORTED  # when the command being run started: train shows "the whole command: X s"

import typer  # noqa: E402 - after the clock starts

from looplab.errors import LooplabError  # noqa: E402
from looplab.signals import EARLIER, Interrupted, note_signal  # noqa: E402

app = typer.Typer(
    name="looplab",
    help="Learn the training loop with PyTorch: run, see and check every idea of the course.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module adds its commands to `app` when imported.
from looplab.cli import (  # noqa: E402, F401
    batch,
    compare,
    exercises,
    gpt,
    gradcheck,
    info,
    landscape,
    lessons,
    lr_find,
    playground,
    predict,
    regularize,
    runs,
    schedule,
    sweep,
    train,
)


def run(argv: list[str] | None = None, *, started_at: float | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (tests call this directly);
    ``started_at`` (a ``time.perf_counter()``) is when the command started, default now."""
    from looplab.files import write_fix, write_problem

    global started
    started = time.perf_counter() if started_at is None else started_at
    EARLIER.clear()
    try:
        result = app(args=argv, prog_name="looplab", standalone_mode=False)
    except LooplabError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code)
    except Stopped as exc:
        return _interrupted(exc.signum)
    except typer.TyperException as exc:  # a bad flag: unknown option, missing argument...
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `looplab`: the help was shown
            return 0
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "looplab"
        message = list_flag_hint(argv or []) or exc.format_message()
        sys.stderr.write(f"error: {message} (see `{command} --help`)\n")
        return 2
    except (typer.Abort, KeyboardInterrupt) as exc:
        return _interrupted(int(getattr(exc, "signum", signal.SIGINT)))
    except OSError as exc:  # a full disk, a read-only directory: the user's to fix, not a bug
        problem = write_problem(exc)
        if problem is None:
            raise
        sys.stderr.write(f"error: {problem}; {write_fix(exc)}\n")
        return 2
    code = result if isinstance(result, int) else 0
    if EARLIER and code in (0, 130):  # typer's silent 130 for any signal, or a lost raise
        return _interrupted(EARLIER[-1])
    return code


class Stopped(Exception):
    """A command stopped by Ctrl-C or SIGTERM that it did not report itself. (typer turns a
    KeyboardInterrupt into a silent exit 130, whatever the signal: commands raise this.)"""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stops(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt as exc:  # looplab.watch.interrupt.Interrupted is one
            raise Stopped(int(getattr(exc, "signum", signal.SIGINT))) from None

    return wrapper


for _command in app.registered_commands:
    if _command.callback is not None:
        _command.callback = _stops(_command.callback)


def _interrupted(signum: int) -> int:
    """Ctrl-C or SIGTERM that the command did not report itself: say so; 130 or 143."""
    sys.stderr.write(f"interrupted ({signal.Signals(signum).name})\n")
    return 128 + signum


LIST_FLAGS = ("--hidden", "--drop")  # one value with commas inside


def list_flag_hint(argv: list[str]) -> str | None:
    """``--hidden 16 16`` gives typer an extra argument; say how to write it instead."""
    for i, arg in enumerate(argv):
        if arg in LIST_FLAGS:
            values = list(itertools.takewhile(lambda a: not a.startswith("-"), argv[i + 1 :]))
            if len(values) > 1:
                joined = ",".join(values)
                return (
                    f"{arg} takes one value with commas, not spaces: {arg} {joined} "
                    f"(got {' '.join(values)})"
                )
    return None


def _terminate(signum: int, frame: FrameType | None) -> None:
    note_signal(signum)  # recorded: the raise below can be lost (in a garbage collection)
    raise Interrupted(signum)


def main() -> None:
    """Console-script entry point.

    It lets Python cache the bytecode of what it imports even where PYTHONDONTWRITEBYTECODE is
    set: otherwise torch is compiled from source on every start (measured: 7.5 s of a 16 s run).
    uv's install-time ``compile-bytecode`` did the same, but re-checked all 10,285 files and said
    so on every ``uv run``; this way only the modules looplab imports are compiled, once.

    SIGTERM unwinds like Ctrl-C (files closed, status written, exit 143) in commands that do
    not catch it themselves, and either is reported in a line. A command that returns leaves
    without the interpreter's teardown: once torch._dynamo is imported (torch.optim's own
    classes do on first use; looplab's builds avoid it, run/dynamo_free.py, a lesson's demo may
    not), collecting its modules at exit takes seconds (3.3 s measured on 2 busy cores), and every
    file looplab writes is closed and fsynced by then. A bug's traceback still unwinds normally.
    """
    sys.dont_write_bytecode = False
    signal.signal(signal.SIGINT, _terminate)
    signal.signal(signal.SIGTERM, _terminate)
    code = run(sys.argv[1:], started_at=_IMPORTED)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
