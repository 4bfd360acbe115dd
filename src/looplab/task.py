"""The three kinds of problem the course trains on; each has its loss, outputs and metrics."""

from typing import Literal

Task = Literal["regression", "binary", "multiclass"]
KINDS: tuple[Task, ...] = ("regression", "binary", "multiclass")
