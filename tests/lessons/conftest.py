"""The lessons' demos, run in fast mode once per test process and only when a test asks."""

from __future__ import annotations

import pytest

from looplab.lessons.catalogue import load
from looplab.lessons.lesson import DemoResult


class LessonRuns(dict[str, dict[str, DemoResult]]):
    """``runs["2.3"]["width_50_diverges"]``: a lesson's demos run (fast mode, figures in a
    temporary directory) the first time one of its results is asked for, and are kept. Under
    pytest-xdist each worker runs only the lessons its own tests read."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        super().__init__()
        self.factory = factory

    def __missing__(self, lesson_id: str) -> dict[str, DemoResult]:
        lesson = load(lesson_id)
        folder = self.factory.mktemp(f"lesson-{lesson_id}")
        self[lesson_id] = {d.function.__name__: d.function(True, folder) for d in lesson.demos}
        return self[lesson_id]


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, DemoResult]]:
    """Lesson id -> demo function name -> its fast-mode result."""
    return LessonRuns(tmp_path_factory)
