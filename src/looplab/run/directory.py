"""Run directories and their status.

A run directory holds ``config.toml``, ``history.csv``, ``model.pt``, ``report.html``,
``checkpoints/`` and ``status.json``. ``status.json`` is written atomically: ``running`` when
training starts, ``complete`` only after the final checkpoint, history, model and report are
all written, else ``interrupted`` or ``failed``. A process that trains into a directory holds
an exclusive ``flock`` on its ``.lock`` file; the OS drops it when the process ends, however it
ends, so a second process is refused only while the first is alive.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path, PureWindowsPath
from typing import Any

from looplab.config import Config, check_name
from looplab.errors import RunError
from looplab.files import portable_name, shorten, write_atomic, write_problem
from looplab.watch.checkpoint import CHECKPOINT_DIR, list_checkpoints

try:
    import fcntl
except ImportError:  # Windows: no flock; the pid in status.json still guards a running run
    fcntl = None  # type: ignore[assignment]

STATUS_FILE = "status.json"
MODEL_FILE = "model.pt"  # the trained model: looplab.run.saved writes and reads it
FORMAT_VERSION = 1  # of the run's files: model.pt and status.json
LOCK_FILE = ".lock"
STATUSES = ("running", "complete", "interrupted", "failed")
DAMAGED = "damaged"  # what read_status says of a status.json it cannot read


def create_run_dir(
    out: str | Path, name: str | None, config: Config, default: str | None = None
) -> Path:
    """Make a new, empty run directory under ``out``: ``name`` (the user's ``--name``, refused
    if some system would refuse it), else ``default`` (a command's own name for it) or
    DATASET-MODEL-TIME, made portable; ``-2``, ``-3``... when the name is taken."""
    base = Path(out)
    if name is not None:
        check_name(name)  # one portable directory inside out, never a path out of it
    else:
        if default is None:
            dataset = config.dataset
            if dataset.startswith("csv:"):  # C:\data\houses.csv or data/houses.csv: houses
                dataset = PureWindowsPath(dataset.removeprefix("csv:")).stem
            default = f"{dataset}-{config.model}-{time.strftime('%Y%m%d-%H%M%S')}"
        name = portable_name(default)
    path, k = base / name, 2
    try:
        base.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                path.mkdir()  # atomic: two runs started in the same second get two directories
                return path
            except FileExistsError:
                path, k = base / f"{name}-{k}", k + 1
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise RunError(
            f"cannot write the output directory {shorten(str(base))!r} ({reason}); "
            "choose another with --out DIR"
        ) from None


def write_status(run_dir: Path, status: str, **info: object) -> None:
    """Record a run's status atomically, with the process that wrote it and the time."""
    assert status in STATUSES, status
    record = {
        "status": status,
        "format_version": FORMAT_VERSION,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "time": time.time(),
        **info,
    }
    write_atomic(run_dir / STATUS_FILE, json.dumps(record, indent=1).encode())


def read_status(run_dir: Path) -> dict[str, Any]:
    """A run's status record; ``running`` whose process is gone reads as ``interrupted`` (it
    was killed: resumable from its checkpoints) or ``failed`` (no checkpoint to resume)."""
    try:
        record = json.loads((run_dir / STATUS_FILE).read_text())
        if not isinstance(record, dict) or record.get("status") not in STATUSES:
            raise ValueError
    except FileNotFoundError:
        has_model = (run_dir / MODEL_FILE).exists()
        record = {"status": "complete" if has_model else "failed", "time": None}  # older runs
    except (OSError, ValueError, RecursionError, UnicodeDecodeError):  # RecursionError: [[[[...
        return {"status": DAMAGED, "message": f"{STATUS_FILE} is damaged", "time": None}
    if record["status"] == "running" and not (is_locked(run_dir) or _alive(record)):
        # killed: a run with checkpoints, or any other kind of directory (a sweep keeps its
        # finished runs), was interrupted; a run killed before its first checkpoint failed
        kept = record.get("kind", "train") != "train" or list_checkpoints(run_dir / CHECKPOINT_DIR)
        record = {**record, "status": "interrupted" if kept else "failed", "killed": True}
    return record


def _alive(record: dict[str, Any]) -> bool:
    if fcntl is not None and record.get("lock"):
        return False  # the writer held the lock, and is_locked found it free: it is gone
    if record.get("host") != socket.gethostname():
        return True  # written on another machine: trust the record
    pid = record.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def status_of(run_dir: Path, **info: Any) -> Iterator[None]:
    """Mark ``run_dir`` running; if the body raises, mark it interrupted (a signal, Ctrl-C, or
    a disk that refused a write: all resumable) or failed. The caller writes ``complete`` once
    every file is in place. If the status itself cannot be written (the disk is full), the old
    one stays: ``running`` by a process that is gone reads as interrupted (:func:`read_status`)."""
    write_status(run_dir, "running", lock=is_locked(run_dir), **info)
    try:
        yield
    except KeyboardInterrupt as exc:  # looplab.watch.interrupt.Interrupted is one
        checkpoint = getattr(exc, "checkpoint", None)
        where = str(checkpoint) if checkpoint else None
        _try_status(run_dir, "interrupted", checkpoint=where, **info)
        raise
    except BaseException as exc:
        problem = write_problem(exc)
        if problem is not None:
            _try_status(run_dir, "interrupted", message=problem, **info)
        else:
            message = str(exc).splitlines()[0] if str(exc) else ""
            _try_status(run_dir, "failed", message=f"{type(exc).__name__}: {message}", **info)
        raise


def _try_status(run_dir: Path, status: str, **info: Any) -> None:
    """Write a status if the disk allows; never let it hide the error being reported."""
    with contextlib.suppress(OSError):
        write_status(run_dir, status, **info)


class RunLock:
    """An exclusive ``flock`` on ``run_dir/.lock``: one process trains into a directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.fd: int | None = None

    def acquire(self, create: bool = True) -> None:
        """Take the lock, or raise a RunError naming the process that holds it. Without
        ``create``, a directory with no lock file yet is left as it is (no process holds it)."""
        if fcntl is None or self.fd is not None:
            return
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        try:
            fd = os.open(self.run_dir / LOCK_FILE, flags, 0o644)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunError(busy_message(self.run_dir)) from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the file drops the lock
            self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(run_dir: Path) -> bool:
    """Whether a live process holds ``run_dir``'s lock (False without a lock file)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also drops the shared lock just taken
    return False


def check_not_running(run_dir: Path) -> None:
    """Refuse a run directory that a live process is training into (its lock is held, or its
    status says running by a process that is still there)."""
    if is_locked(run_dir) or read_status(run_dir)["status"] == "running":
        raise RunError(busy_message(run_dir))


def busy_message(run_dir: Path) -> str:
    record: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError, RecursionError):
        loaded = json.loads((run_dir / STATUS_FILE).read_text())
        record = loaded if isinstance(loaded, dict) else {}
    pid = record.get("pid")
    who = f" (pid {pid})" if isinstance(pid, int) else ""
    return (
        f"run {shorten(str(run_dir))!r} is being trained by another process{who}; two processes "
        "cannot train into one run: wait for it to end (or stop it), then resume"
    )
