"""Files that survive a crash (written to a temporary name, flushed, fsynced and renamed), and
what to tell the user when the disk refuses a write."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from pathlib import Path

from looplab.errors import ConfigError

# Characters every common file system accepts in a name (Windows refuses <>:"/\|?* and more).
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+=-]+")
_RESERVED = {"con", "prn", "aux", "nul", *(f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10))}


def portable_name(text: str) -> str:
    """``text`` made into a directory name every system accepts: runs of other characters
    become ``_`` (``csv:C:/data/houses`` -> ``csv_C_data_houses``), no leading or trailing
    ``.`` or ``_``, never empty."""
    name = _UNSAFE.sub("_", text).strip("._") or "run"
    return f"{name}_run" if name.lower() in _RESERVED else name


def check_portable_name(name: str, what: str = "name") -> None:
    """Refuse a directory name some system would refuse (``a:b``, ``con``, ``x.``, ``a/b``),
    with the portable spelling as the fix."""
    if portable_name(name) != name:
        raise ConfigError(
            f"{what} {name!r} is not a portable directory name (use letters, digits and "
            f"_ . + = -); e.g. --name {portable_name(name)}"
        )


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)  # atomic on POSIX: readers see the old or the new file
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.errno is not None:  # name the file, not its tmp
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    _fsync_dir(path.parent)  # the rename itself survives a power cut


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not possible on every platform; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# Why a write can fail that is the machine's or the user's doing, not a bug in looplab.
_WRITE_PROBLEMS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EEXIST: "a file of that name is in the way",
    errno.EISDIR: "it is a directory",
}


def write_problem(exc: BaseException) -> str | None:
    """``"cannot write 'runs/x/model.pt': the disk is full"`` for an OSError the user can fix
    (full disk, read-only file system, permissions...); None for anything else."""
    if not isinstance(exc, OSError) or exc.errno not in _WRITE_PROBLEMS:
        return None
    where = f" {shorten(str(exc.filename))!r}" if exc.filename else ""
    return f"cannot write{where}: {_WRITE_PROBLEMS[exc.errno]}"


def write_fix(exc: BaseException) -> str:
    """What to do about :func:`write_problem`'s problem: free space, or make it writable."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some space"
    if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "make it writable (or write elsewhere with --out)"
    return "fix the path (or write elsewhere with --out)"


def shorten(text: str, limit: int = 120) -> str:
    """``text`` cut in the middle to at most ``limit`` characters: paths in one-line messages."""
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return text[:half] + "..." + text[-half:]
