"""A lesson as text: the code of its demos (pasteable), its notebook and its docs page.

All three are generated from the lesson module, the one source: the demo functions' own source,
the module's imports, the exercises' starters.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any

from looplab.lessons.exercise import starter_function
from looplab.lessons.lesson import Demo, Lesson


def module_imports(lesson: Lesson) -> str:
    """The import statements of the lesson's module (what its demos need to run elsewhere)."""
    source = inspect.getsource(importlib.import_module(lesson.module))
    lines = source.splitlines()
    parts = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            assert node.end_lineno is not None
            parts.append("\n".join(lines[node.lineno - 1 : node.end_lineno]))
    return "\n".join(parts)


def demo_code(lesson: Lesson, demo: Demo) -> str:
    """A demo as a file a learner can paste and run: the imports, then the function."""
    return f"{module_imports(lesson)}\n\n\n{demo.source}"


def demo_call(lesson: Lesson, demo: Demo, fast: str = "FAST") -> str:
    """The lines that run a demo and show what it measured."""
    name = demo.function.__name__
    return (
        f'result = {name}({fast}, Path("lessons/{lesson.id}"))\n'
        "for number in result.numbers:\n"
        '    print(f"{number.name}: {number.value:.4g}  ({number.sentence})")\n'
        "for figure in result.figures:\n"
        "    display(Image(filename=str(figure)))"
    )


def notebook(lesson: Lesson, fast: bool = True) -> Any:
    """The lesson as a Jupyter notebook (nbformat v4): text, equations, demos, exercises."""
    import nbformat.v4 as nbf

    cells = [
        nbf.new_markdown_cell(
            f"# Lesson {lesson.id}: {lesson.title}\n\n*{lesson.minutes} minutes*\n\n{lesson.eli5}"
        ),
        nbf.new_markdown_cell(
            "## The equations\n\n" + "\n\n".join(f"$${eq}$$" for eq in lesson.equations)
        ),
        *(nbf.new_markdown_cell(note) for note in lesson.notes),
        nbf.new_markdown_cell(
            "## What to look at\n\n" + "\n".join(f"- {item}" for item in lesson.look_at)
        ),
        nbf.new_code_cell(
            "from pathlib import Path\n\nimport torch\n"
            "from IPython.display import Image, display\n\n"
            "torch.set_num_threads(1)  # small models: one thread is fastest\n"
            f"FAST = {fast}  # False: the full settings of `looplab lesson {lesson.id}`"
        ),
    ]
    for demo in lesson.demos:
        cells.append(nbf.new_markdown_cell(f"## Demo: {demo.title}"))
        cells.append(nbf.new_code_cell(demo_code(lesson, demo)))
        cells.append(nbf.new_code_cell(demo_call(lesson, demo)))
    if lesson.exercises:
        cells.append(
            nbf.new_markdown_cell(
                "## Exercises\n\nWrite each function's body, then run its cell: the check "
                "compares your function with an oracle and says what differs."
            )
        )
        cells.append(nbf.new_code_cell("from looplab.lessons.notebook import check"))
    for ex in lesson.exercises:
        cells.append(nbf.new_markdown_cell(f"### Exercise {ex.id}: {ex.title}"))
        code = "\n".join(ex.imports) + "\n\n\n" + starter_function(ex)
        cells.append(nbf.new_code_cell(f'{code}\n\ncheck("{ex.id}", {ex.function})'))
    nb = nbf.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def write_notebook(lesson: Lesson, path: Path, fast: bool = True) -> Path:
    """Write the lesson's notebook to ``path`` (a ``.ipynb`` file)."""
    import nbformat

    from looplab.files import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, nbformat.writes(notebook(lesson, fast)).encode())
    return path
