"""User-facing errors.

Every mistake a user can make raises a subclass of :class:`LooplabError` whose message is one
line naming the problem and the fix. The CLI prints that line and exits with code 2; anything
else is a bug in looplab and keeps its traceback.
"""

from __future__ import annotations


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


def one_of(value: object, allowed: list[str] | tuple[str, ...]) -> str:
    """Format the 'allowed values' part of a message: ``'x'; choose one of: a, b, c``."""
    return f"{value!r}; choose one of: {', '.join(allowed)}"
