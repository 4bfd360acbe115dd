"""User-facing errors.

Every mistake a user can make raises a subclass of :class:`LooplabError` whose message is one
line naming the problem and the fix. The CLI prints that line and exits with code 2; anything
else is a bug in looplab and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

LIST_LIMIT = 10  # names from the data (columns, rows) shown in one message; the rest counted
CHOICES_LIMIT = 50  # allowed values listed in full (they come from looplab, not from the data)


class LooplabError(Exception):
    """A user mistake: the message says what is wrong and how to fix it."""


class ConfigError(LooplabError):
    """A configuration value is missing, malformed or not one of the allowed values."""


class DataError(LooplabError):
    """A dataset name, file or column cannot be used."""


class ShapeError(LooplabError):
    """A tensor reached a layer with the wrong shape."""


class RunError(LooplabError):
    """A run directory or saved model cannot be read or written."""


def one_of(value: object, allowed: Sequence[str]) -> str:
    """Format the 'allowed values' part of a message: ``'x'; choose one of: a, b, c``. A long
    list shows the names closest to ``value`` first, and counts the rest."""
    names = list(allowed)
    if len(names) <= CHOICES_LIMIT:
        return f"{value!r}; choose one of: {', '.join(names)}"
    close = difflib.get_close_matches(str(value), names, n=3, cutoff=0.5)
    names = close + [n for n in names if n not in close]
    return f"{value!r}; choose one of: {listing(names)}"


def listing(items: Sequence[object], limit: int = LIST_LIMIT) -> str:
    """``a, b, c``; past ``limit`` items, the first ones and a count (``..., and 99,990 more``),
    so that a message stays one readable line whatever the data."""
    texts = [str(item) for item in items]
    if len(texts) <= limit:
        return ", ".join(texts)
    return f"{', '.join(texts[:limit])}, ... and {len(texts) - limit:,} more"
