"""``looplab lessons`` (the course and your progress) and ``looplab lesson ID`` (run one)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from looplab.cli import app
from looplab.cli.output import console, err_console, fmt

if TYPE_CHECKING:
    from looplab.lessons.lesson import Lesson


@app.command()
def lessons() -> None:
    """The 22 lessons of the course, grouped by module, with your exercises passed / total."""
    from rich.table import Table

    from looplab.lessons.catalogue import CATALOGUE, MODULES, load
    from looplab.lessons.progress import Progress

    progress = Progress.load()
    table = Table(title="Learn the training loop with PyTorch")
    table.add_column("lesson")
    table.add_column("title")
    table.add_column("minutes", justify="right")
    table.add_column("exercises passed", justify="right")
    for number, name in MODULES.items():
        table.add_section()
        table.add_row("", f"[bold]Module {number}: {name}[/]", "", "")
        for row in CATALOGUE:
            if row.module != number:
                continue
            if not row.written:
                table.add_row(row.id, f"[dim]{row.title}[/]", str(row.minutes), "[dim]coming[/]")
                continue
            ids = [ex.id for ex in load(row.id).exercises]
            done = sum(progress.has_passed(i) for i in ids)
            mark = "[green]" if ids and done == len(ids) else ""
            table.add_row(row.id, row.title, str(row.minutes), f"{mark}{done} / {len(ids)}")
    console.print(table)
    console.print(
        "run one: [bold]looplab lesson 1.1[/]; an exercise: [bold]looplab exercise 1.2.1[/]"
    )


@app.command()
def lesson(
    lesson_id: Annotated[str, typer.Argument(metavar="ID", help="a lesson id, e.g. 1.2")],
    fast: Annotated[
        bool, typer.Option("--fast", help="the same demos on smaller settings")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="directory for the figures (default: lessons/ID)")
    ] = None,
    code: Annotated[
        bool, typer.Option("--code", help="print the demos' source (paste and run it)")
    ] = False,
    notebook: Annotated[
        bool, typer.Option("--notebook", help="write the lesson as a Jupyter notebook")
    ] = False,
) -> None:
    """Print a lesson, run its demos and write their figures, e.g. `looplab lesson 1.1`."""
    from looplab.lessons.catalogue import load

    target = out or Path("lessons") / lesson_id
    current = load(lesson_id)
    if code:
        from looplab.lessons.render import demo_code

        for demo in current.demos:
            sys.stdout.write(f"# ---- {demo.title}\n{demo_code(current, demo)}\n")
        return
    if notebook:
        from looplab.lessons.render import write_notebook

        path = write_notebook(current, target / f"lesson_{lesson_id.replace('.', '_')}.ipynb", fast)
        console.print(f"wrote [bold]{path}[/] (open it with Jupyter; FAST = {fast})")
        return
    _print_text(current)
    _run_demos(current, fast, target)


def _print_text(current: Lesson) -> None:
    from rich.markdown import Markdown
    from rich.panel import Panel

    console.print(
        Panel(
            current.eli5,
            title=f"[bold]Lesson {current.id}: {current.title}[/]",
            subtitle=f"{current.minutes} minutes",
            expand=False,
        )
    )
    console.print("[bold]The equations[/] (LaTeX)")
    for eq in current.equations:
        console.print(f"  {eq}", markup=False, highlight=False)
    for note in current.notes:
        console.print(Markdown(note))
    console.print("[bold]What to look at[/]")
    for item in current.look_at:
        console.print(f"  - {item}", highlight=False)


def _run_demos(current: Lesson, fast: bool, target: Path) -> None:
    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from rich.table import Table

    torch.set_num_threads(1)  # the demos' models are small: one thread is fastest
    results = []
    with Progress(
        "[bold]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("demos", total=len(current.demos))
        for demo in current.demos:
            bar.update(task, description=f"demo: {demo.title}")
            results.append((demo, demo.function(fast, target)))
            bar.advance(task)
    for demo, result in results:
        table = Table(title=f"{demo.title}{' (--fast)' if fast else ''}", title_justify="left")
        table.add_column("measured")
        table.add_column("value", justify="right")
        table.add_column("what it shows")
        for number in result.numbers:
            table.add_row(number.name, fmt(number.value), number.sentence)
        console.print(table)
        for figure in result.figures:
            console.print(f"wrote [bold]{figure}[/]")
    if current.exercises:
        console.print("[bold]Exercises[/]")
        for ex in current.exercises:
            console.print(f"  {ex.id}  {ex.title}: [bold]looplab exercise {ex.id}[/]")
