"""The catalogue of 22 lessons, the shape every lesson module has, and adding a lesson as one
new module."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

import looplab.lessons
from looplab.cli import run
from looplab.lessons.catalogue import (
    CATALOGUE,
    MODULES,
    LessonError,
    entry,
    exercise,
    load,
    written,
)
from looplab.lessons.lesson import Lesson


def test_the_catalogue_has_the_22_lessons_of_the_course_in_order() -> None:
    ids = [row.id for row in CATALOGUE]
    assert ids == [f"1.{i}" for i in range(1, 7)] + [f"2.{i}" for i in range(1, 8)] + [
        f"3.{i}" for i in range(1, 10)
    ]
    assert {row.module for row in CATALOGUE} == set(MODULES)
    assert all(row.minutes > 0 and row.title for row in CATALOGUE)


@pytest.mark.parametrize("lesson", written(), ids=lambda lesson: lesson.id)
def test_a_written_lesson_has_the_common_shape_and_matches_its_row(lesson: Lesson) -> None:
    row = entry(lesson.id)
    assert (lesson.title, lesson.minutes) == (row.title, row.minutes)
    assert lesson.eli5 and len(lesson.equations) >= 2 and lesson.look_at and lesson.demos
    assert [ex.id for ex in lesson.exercises] == [
        f"{lesson.id}.{k}" for k in range(1, len(lesson.exercises) + 1)
    ]
    declared = {f for demo in lesson.demos for f in demo.figures}
    for item in lesson.look_at:  # a figure named in "what to look at" is one a demo draws
        named = item.split(":")[0]
        if named.endswith(".png"):
            assert named in declared, named


NEW_LESSON = '''
"""A lesson written by someone else: one new module."""

from pathlib import Path

import torch

from looplab.lessons.lesson import Demo, DemoResult, Lesson


def activations(fast: bool = False, out: Path = Path("lessons/3.1")) -> DemoResult:
    """tanh squashes, relu cuts."""
    x = torch.linspace(-3, 3, 7)
    result = DemoResult()
    result.add("max tanh", float(torch.tanh(x).max()), "tanh never reaches 1")
    return result


LESSON = Lesson(
    id="3.1",
    title="Optimizers beyond SGD",
    minutes=30,
    eli5="Bends make curves.",
    equations=(r"\\tanh(x)", r"\\max(0, x)"),
    look_at=("the numbers",),
    demos=(Demo("activations", activations),),
)
'''


def test_adding_a_lesson_is_one_new_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "more_lessons"
    extra.mkdir()
    (extra / "lesson_3_1.py").write_text(textwrap.dedent(NEW_LESSON))
    # the new module comes first on the path, so it stands in for a written lesson 3.1 too
    monkeypatch.setattr(looplab.lessons, "__path__", [str(extra), *looplab.lessons.__path__])
    monkeypatch.delitem(sys.modules, "looplab.lessons.lesson_3_1", raising=False)
    monkeypatch.chdir(tmp_path)
    try:
        assert entry("3.1").written
        assert run(["lessons"]) == 0
        line = next(ln for ln in capsys.readouterr().out.splitlines() if " 3.1 " in ln)
        assert "0 / 0" in line and "coming" not in line
        assert run(["lesson", "3.1", "--fast"]) == 0
        out = capsys.readouterr().out
        assert "Lesson 3.1: Optimizers beyond SGD" in out
        assert "max tanh" in out and "0.9951" in out  # tanh(3)
    finally:  # monkeypatch puts back the real module, if one was imported
        sys.modules.pop("looplab.lessons.lesson_3_1", None)


def test_a_lesson_whose_module_does_not_exist_is_coming(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every lesson of the course is written; the "coming" path stays for a catalogue row whose
    module is missing (here 3.8's, hidden from the import system)."""
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "looplab.lessons.lesson_3_8" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert not entry("3.8").written
    assert "3.8" not in [lesson.id for lesson in written()]
    with pytest.raises(LessonError) as caught:
        load("3.8")
    assert str(caught.value) == (
        "lesson 3.8 (Case studies) is coming: it is not written yet; `looplab lessons` shows "
        "the ones you can run"
    )
    with pytest.raises(LessonError, match=r"lesson 3\.8 \(Case studies\) is coming"):
        exercise("3.8.1")
