"""How much memory the machine has, and a check that a size fits before it is allocated.

A model of ``--hidden 100000,100000`` or ``--n 10000000000`` rows fails deep inside torch or
numpy with an allocation error; :func:`check_memory` says beforehand how much it would take.
"""

from __future__ import annotations

import os
from pathlib import Path

from looplab.errors import ConfigError


def available_memory() -> int | None:
    """Bytes of memory a new allocation can use now (Linux's MemAvailable; else the free
    physical pages); None where neither can be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    """``512 B``, ``3.2 MiB``, ``298.0 GiB``, ``1.2 PiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def check_memory(what: str, needed: float, fix: str) -> None:
    """Raise a ConfigError when ``needed`` bytes (for ``what``) exceed the available memory."""
    available = available_memory()
    if available is not None and needed > available:
        raise ConfigError(
            f"{what} would take about {format_bytes(needed)} of memory, but "
            f"{format_bytes(available)} is available; {fix}"
        )
