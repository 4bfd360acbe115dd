"""The lessons' pages under ``docs/lessons/``, generated from the lesson modules.

``uv run python -m looplab.lessons.docs`` rewrites ``docs/lessons/README.md`` (the index) and,
for every written lesson, ``docs/lessons/ID.md`` and its figures (``docs/lessons/ID/*.png``, from
the demos' full settings). ``--pages-only`` rewrites the text and keeps the figures. A test
regenerates the text and fails when a committed page is out of date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from looplab.lessons.catalogue import CATALOGUE, MODULES, load
from looplab.lessons.exercise import starter_function
from looplab.lessons.lesson import Lesson
from looplab.lessons.render import demo_code

DOCS = Path("docs/lessons")


def page(lesson: Lesson) -> str:
    """The markdown page of a lesson; figures are ``ID/NAME.png`` beside it."""
    out = [f"# Lesson {lesson.id}: {lesson.title}", ""]
    out += [
        f"*{lesson.minutes} minutes.* Run it: `uv run looplab lesson {lesson.id}` "
        f"(`--fast` for smaller settings, `--notebook` for a Jupyter notebook).",
        "",
    ]
    out += [lesson.eli5, "", "## The equations", ""]
    for eq in lesson.equations:
        out += ["$$", eq, "$$", ""]
    for note in lesson.notes:
        out += [note, ""]
    out += ["## What to look at", ""]
    out += [f"- {item}" for item in lesson.look_at]
    out.append("")
    for demo in lesson.demos:
        out += [f"## Demo: {demo.title}", ""]
        doc = (demo.function.__doc__ or "").strip()
        if doc:
            out += [" ".join(doc.split()), ""]
        for figure in demo.figures:
            out += [f"![{figure}]({lesson.id}/{figure})", ""]
        out += [
            "<details><summary>The code (<code>uv run looplab lesson "
            f"{lesson.id} --code</code>)</summary>",
            "",
            "```python",
            demo_code(lesson, demo).rstrip(),
            "```",
            "",
            "</details>",
            "",
        ]
    if lesson.exercises:
        out += ["## Exercises", ""]
        out += [
            "Write the starter with `uv run looplab exercise ID`, fill in the body, and "
            "check it with `uv run looplab check ID` (`--hint` for a hint, `--watch` to "
            "re-check on every save).",
            "",
        ]
    for ex in lesson.exercises:
        out += [f"### {ex.id}: {ex.title}", "", f"Checked against: {ex.oracle_name}.", ""]
        out += ["```python", starter_function(ex).rstrip(), "```", ""]
    return "\n".join(out)


def index() -> str:
    """``docs/lessons/README.md``: every lesson, linked when written, grouped by module."""
    out = [
        "# The lessons",
        "",
        "The course, 22 lessons in three modules. `uv run looplab lessons` shows the same "
        "list with your progress; these pages are generated from the lesson modules by "
        "`uv run python -m looplab.lessons.docs`.",
        "",
    ]
    for number, name in MODULES.items():
        out += [f"## Module {number}: {name}", "", "| lesson | title | minutes |", "|---|---|---|"]
        for row in CATALOGUE:
            if row.module != number:
                continue
            title = f"[{row.title}]({row.id}.md)" if row.written else f"{row.title} (coming)"
            out.append(f"| {row.id} | {title} | {row.minutes} |")
        out.append("")
    return "\n".join(out)


def write(directory: Path, lesson_ids: list[str], figures: bool = True) -> list[Path]:
    """Write the index, the pages of ``lesson_ids`` and (with ``figures``) their PNGs."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "README.md"]
    written[0].write_text(index())
    for lesson_id in lesson_ids:
        lesson = load(lesson_id)
        if figures:
            for demo in lesson.demos:
                result = demo.function(False, directory / lesson.id)
                written += result.figures
        path = directory / f"{lesson.id}.md"
        path.write_text(page(lesson))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate docs/lessons from the lessons.")
    parser.add_argument("ids", nargs="*", help="lesson ids (default: every written lesson)")
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--pages-only", action="store_true", help="keep the figures")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # small models: one thread is fastest
    ids = args.ids or [row.id for row in CATALOGUE if row.written]
    for path in write(args.out, ids, figures=not args.pages_only):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
