"""What a lesson's notebook calls: ``check("1.2.1", mse_loss)`` checks a function in place.

In a notebook the learner's function runs in the kernel itself (no time limit, no subprocess);
the result is the same record ``looplab check`` prints, and a pass is kept in the progress file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from looplab.lessons.catalogue import exercise
from looplab.lessons.checking import check_function
from looplab.lessons.progress import Progress


def check(exercise_id: str, fn: Callable[..., Any]) -> None:
    """Check ``fn`` against exercise ``exercise_id``'s oracle and print the verdict (returns
    nothing, so the notebook shows the printed lines only)."""
    ex = exercise(exercise_id)
    result = check_function(ex, fn)
    if result.status == "pass":
        progress = Progress.load()
        progress.mark_passed(ex.id)
        progress.save()
        print(f"pass: {ex.function} passes all {len(result.tests)} tests")
        return
    first = result.failed[0]
    print(f"fail: {len(result.failed)} of {len(result.tests)} tests failed")
    print(first.message)
    print(f"hint: {result.hint or ex.hints[0]}")
