"""The 22 lessons of the course: id, title and minutes, written or coming.

A lesson is *written* when its module ``looplab/lessons/lesson_<module>_<n>.py`` exists; adding
that one file is all it takes (its ``LESSON.title`` must match the row here, a test checks).
Nothing here imports torch: ``looplab lessons`` reads this table before loading any lesson.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

from looplab.errors import LooplabError
from looplab.lessons.lesson import lesson_module_name

if TYPE_CHECKING:
    from looplab.lessons.exercise import Exercise
    from looplab.lessons.lesson import Lesson


class LessonError(LooplabError):
    """An unknown or not yet written lesson or exercise."""


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    minutes: int

    @property
    def module(self) -> int:
        return int(self.id.split(".")[0])

    @property
    def written(self) -> bool:
        return importlib.util.find_spec(lesson_module_name(self.id)) is not None


MODULES = {
    1: "the elementary loop",
    2: "from linear models to networks",
    3: "training in practice",
}

CATALOGUE: tuple[Entry, ...] = (
    Entry("1.1", "What a training loop is", 15),
    Entry("1.2", "Linear regression by hand", 25),
    Entry("1.3", "Batch vs stochastic vs mini-batch", 20),
    Entry("1.4", "The loss landscape", 20),
    Entry("1.5", "Numerical vs analytical gradients", 20),
    Entry("1.6", "Recap: the elementary loop", 25),
    Entry("2.1", "From linear to nonlinear", 20),
    Entry("2.2", "Forward and backward passes", 30),
    Entry("2.3", "A network from scratch", 35),
    Entry("2.4", "The role of activations", 20),
    Entry("2.5", "Mini-batching and data pipelines", 25),
    Entry("2.6", "Regularization", 25),
    Entry("2.7", "Recap: networks", 25),
    Entry("3.1", "Optimizers beyond SGD", 30),
    Entry("3.2", "Learning-rate schedules", 20),
    Entry("3.3", "Weight initialization", 20),
    Entry("3.4", "Deep networks", 30),
    Entry("3.5", "Data parallelism and hardware", 30),
    Entry("3.6", "Monitoring and debugging", 25),
    Entry("3.7", "Modern regularization", 25),
    Entry("3.8", "Case studies", 40),
    Entry("3.9", "What comes after", 15),
)


def entry(lesson_id: str) -> Entry:
    """The catalogue row of ``lesson_id``; a LessonError naming the valid ids otherwise."""
    for row in CATALOGUE:
        if row.id == lesson_id:
            return row
    ids = ", ".join(row.id for row in CATALOGUE)
    raise LessonError(f"no lesson {lesson_id!r}; the lessons are {ids} (see `looplab lessons`)")


def load(lesson_id: str) -> Lesson:
    """The written lesson ``lesson_id`` (imports its module, and so torch)."""
    row = entry(lesson_id)
    if not row.written:
        raise LessonError(
            f"lesson {row.id} ({row.title}) is coming: it is not written yet; "
            "`looplab lessons` shows the ones you can run"
        )
    lesson: Lesson = importlib.import_module(lesson_module_name(row.id)).LESSON
    return lesson


def written() -> list[Lesson]:
    """Every written lesson, in course order."""
    return [load(row.id) for row in CATALOGUE if row.written]


def exercise(exercise_id: str) -> Exercise:
    """The exercise ``"1.2.1"`` (lesson 1.2, its first exercise)."""
    parts = exercise_id.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise LessonError(
            f"{exercise_id!r} is not an exercise id: they look like 1.2.1 (lesson 1.2, "
            "exercise 1); `looplab lessons` lists them"
        )
    lesson = load(".".join(parts[:2]))
    for ex in lesson.exercises:
        if ex.id == exercise_id:
            return ex
    ids = ", ".join(ex.id for ex in lesson.exercises) or "none"
    raise LessonError(f"lesson {lesson.id} has no exercise {exercise_id}; its exercises: {ids}")
