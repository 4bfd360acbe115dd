"""Files that survive a crash: written to a temporary name, flushed, fsynced and renamed."""

from __future__ import annotations

import contextlib
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
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
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
