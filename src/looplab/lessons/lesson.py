"""The shape every lesson module has: a :class:`Lesson` of text, demos and exercises.

A lesson module (``looplab/lessons/lesson_1_2.py`` for lesson 1.2) defines ``LESSON``. Its demos
are plain functions ``demo(fast, out) -> DemoResult`` whose source a learner can read and paste
(``looplab lesson ID --code``); the numbers they return are computed, never typed in.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from looplab.lessons.exercise import Exercise


@dataclass(frozen=True)
class Number:
    """One measured number and the sentence that says what it shows."""

    name: str
    value: float
    sentence: str


@dataclass
class DemoResult:
    """What a demo measured (named numbers, each with its sentence) and the figures it wrote."""

    numbers: list[Number] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)

    def add(self, name: str, value: float, sentence: str) -> None:
        self.numbers.append(Number(name, float(value), sentence))

    def __getitem__(self, name: str) -> float:
        for number in self.numbers:
            if number.name == name:
                return number.value
        raise KeyError(name)


DemoFunction = Callable[[bool, Path], DemoResult]  # demo(fast, out)


@dataclass(frozen=True)
class Demo:
    """A runnable demo: ``function(fast, out)`` writes ``figures`` (file names) into ``out``."""

    title: str
    function: DemoFunction
    figures: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return inspect.getsource(self.function)


@dataclass(frozen=True)
class Lesson:
    """One lesson of the course. ``equations`` are LaTeX (without ``$$``); ``notes`` are extra
    markdown paragraphs shown after the equations."""

    id: str
    title: str
    minutes: int
    eli5: str
    equations: tuple[str, ...]
    look_at: tuple[str, ...]
    demos: tuple[Demo, ...]
    exercises: tuple[Exercise, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return lesson_module_name(self.id)


def lesson_module_name(lesson_id: str) -> str:
    """``"1.2"`` -> ``"looplab.lessons.lesson_1_2"``: where a lesson's module lives."""
    return "looplab.lessons.lesson_" + lesson_id.replace(".", "_")
