"""Generated from the lesson modules: notebooks that run, docs pages that are up to date, and
demo code that can be pasted elsewhere."""

from __future__ import annotations

import builtins
import dis
import json
import re
import sys
import types
from pathlib import Path

import nbformat
import pytest

from looplab.lessons import docs
from looplab.lessons.catalogue import CATALOGUE, load, written
from looplab.lessons.render import demo_code, notebook

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = [row.id for row in CATALOGUE if row.written]
EXECUTED = ["1.1", "1.2", "1.5"]  # three notebooks run end to end (the slow part)


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec for this venv's python, installed under tmp_path; Jupyter's and IPython's
    own files go there too."""
    data = tmp_path / "jupyter"
    spec = data / "kernels" / "looplab-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel_json = {"argv": argv, "display_name": "looplab test", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel_json))
    for name, value in (
        ("JUPYTER_PATH", data),
        ("JUPYTER_DATA_DIR", data),
        ("JUPYTER_RUNTIME_DIR", tmp_path / "runtime"),
        ("JUPYTER_CONFIG_DIR", tmp_path / "config"),
        ("IPYTHONDIR", tmp_path / "ipython"),
        ("MPLBACKEND", "Agg"),
    ):
        monkeypatch.setenv(name, str(value))
    return "looplab-test"


@pytest.mark.parametrize("lesson_id", EXECUTED)
def test_the_notebook_runs_in_fast_mode(lesson_id: str, kernel: str, tmp_path: Path) -> None:
    from nbclient import NotebookClient

    lesson = load(lesson_id)
    nb = notebook(lesson, fast=True)
    work = tmp_path / "work"
    work.mkdir()
    resources = {"metadata": {"path": str(work)}}  # the kernel's working directory
    NotebookClient(nb, kernel_name=kernel, timeout=180, resources=resources).execute()
    outputs = [
        "".join(o.get("text", "") for o in cell.get("outputs", []))
        for cell in nb.cells
        if cell.cell_type == "code"
    ]
    text = "\n".join(outputs)
    for demo in lesson.demos:
        for figure in demo.figures:
            assert (work / "lessons" / lesson_id / figure).is_file()
    first_number = lesson.demos[0].function(True, tmp_path / "direct").numbers[0]
    assert f"{first_number.name}: {first_number.value:.4g}" in text  # the same number as the CLI
    for ex in lesson.exercises:  # each starter cell ran its check: a failure, not an exception
        assert f"{ex.function} is not written yet" in text


@pytest.mark.parametrize("lesson_id", WRITTEN)
def test_the_notebook_has_the_text_the_demos_and_a_cell_per_exercise(lesson_id: str) -> None:
    lesson = load(lesson_id)
    nb = notebook(lesson, fast=False)
    nbformat.validate(nb)
    sources = [cell.source for cell in nb.cells]
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for eq in lesson.equations:
        assert f"$${eq}$$" in markdown
    assert lesson.eli5 in markdown
    assert "FAST = False" in "\n".join(sources)
    checks = [s for s in sources if "check(" in s and "raise NotImplementedError" in s]
    assert [s.rsplit("check(", 1)[1] for s in checks] == [
        f'"{ex.id}", {ex.function})' for ex in lesson.exercises
    ]


@pytest.mark.parametrize("lesson_id", WRITTEN)
def test_each_demos_code_names_only_what_its_imports_define(lesson_id: str) -> None:
    """``looplab lesson ID --code`` prints code that runs on its own: every global name the
    demo reads is defined by the imports printed with it (or is a builtin)."""
    lesson = load(lesson_id)
    for demo in lesson.demos:
        namespace: dict[str, object] = {}
        exec(compile(demo_code(lesson, demo), "<demo>", "exec"), namespace)
        pasted = namespace[demo.function.__name__]
        missing = {
            name
            for name in _globals_read(pasted.__code__)  # type: ignore[attr-defined]
            if name not in namespace and not hasattr(builtins, name)
        }
        assert not missing, f"{demo.title}: {missing} are not imported"


def _globals_read(code: types.CodeType) -> set[str]:
    """Global names a function (and the functions and classes inside it) reads."""
    names = {
        i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")
    }
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _globals_read(const)
    return names


def test_the_docs_pages_are_up_to_date(tmp_path: Path) -> None:
    """Regenerate every page's text into tmp and compare; figures must exist. To fix:
    ``uv run python -m looplab.lessons.docs``."""
    docs.write(tmp_path, WRITTEN, figures=False)
    committed = ROOT / "docs" / "lessons"
    for name in ["README.md", *(f"{i}.md" for i in WRITTEN)]:
        assert (committed / name).read_text() == (tmp_path / name).read_text(), (
            f"docs/lessons/{name} is out of date: run `uv run python -m looplab.lessons.docs`"
        )
    for lesson in written():
        for demo in lesson.demos:
            for figure in demo.figures:
                png = committed / lesson.id / figure
                assert png.read_bytes()[:4] == b"\x89PNG", png
                assert f"]({lesson.id}/{figure})" in (committed / f"{lesson.id}.md").read_text()


def test_the_index_lists_all_22_lessons_and_links_the_written_ones() -> None:
    text = docs.index()
    assert len(re.findall(r"^\| \d\.\d \|", text, flags=re.M)) == 22
    for row in CATALOGUE:
        if row.written:
            assert f"[{row.title}]({row.id}.md)" in text
        else:
            assert f"{row.title} (coming)" in text
