"""``looplab exercise ID`` (write the starter file) and ``looplab check ID`` (check it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from looplab.cli import app
from looplab.cli.output import console

if TYPE_CHECKING:
    from looplab.lessons.checking import CheckResult
    from looplab.lessons.exercise import Exercise
    from looplab.lessons.progress import Progress

EXERCISES = Path("exercises")


def default_file(exercise_id: str) -> Path:
    return EXERCISES / f"ex_{exercise_id.replace('.', '_')}.py"


@app.command()
def exercise(
    exercise_id: Annotated[str, typer.Argument(metavar="ID", help="an exercise id, e.g. 1.2.1")],
) -> None:
    """Write the starter file exercises/ex_<id>.py (never over your own work)."""
    from looplab.errors import LooplabError
    from looplab.files import write_atomic
    from looplab.lessons.catalogue import exercise as find
    from looplab.lessons.exercise import starter_text

    ex = find(exercise_id)
    path = default_file(ex.id)
    if path.exists():
        raise LooplabError(
            f"{path} exists and is kept (it may hold your work); check it with "
            f"`looplab check {ex.id}`, or delete it to start over"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, starter_text(ex).encode())
    console.print(
        f"wrote [bold]{path}[/]: write the body of {ex.function}, then run "
        f"[bold]looplab check {ex.id}[/]"
    )


@app.command()
def check(
    exercise_id: Annotated[str, typer.Argument(metavar="ID", help="an exercise id, e.g. 1.2.1")],
    file: Annotated[
        Path | None, typer.Argument(help="your file (default: exercises/ex_<id>.py)")
    ] = None,
    hint: Annotated[bool, typer.Option("--hint", help="show the next, more specific hint")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="check again on every save")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the result record as JSON (Exercism's shape)")
    ] = False,
    solution: Annotated[
        bool, typer.Option("--solution", help="print the reference solution (after a pass)")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="seconds your code may run before it is stopped")
    ] = 10.0,
) -> None:
    """Check your function against an oracle: pass, or what differs, where, and a hint."""
    from looplab.errors import LooplabError
    from looplab.lessons.catalogue import exercise as find
    from looplab.lessons.progress import Progress

    ex = find(exercise_id)
    if solution:
        from looplab.lessons.exercise import solution_text

        if not Progress.load().has_passed(ex.id):
            raise LooplabError(
                f"exercise {ex.id} has not passed yet: the solution is shown once "
                f"`looplab check {ex.id}` passes (try --hint)"
            )
        sys.stdout.write(solution_text(ex))
        return
    path = file or default_file(ex.id)
    if not path.is_file():
        raise LooplabError(f"{path} does not exist; write it with `looplab exercise {ex.id}`")
    if not timeout > 0:
        raise LooplabError(f"--timeout must be a positive number of seconds, got {timeout:g}")
    if not watch:
        passed = _check_once(ex, path, hint, as_json, timeout)
        raise typer.Exit(0 if passed else 1)
    from watchfiles import watch as changes

    _check_once(ex, path, hint, as_json, timeout)
    target = path.resolve()
    saved = changes(target.parent, watch_filter=lambda _change, p: Path(p) == target, debounce=300)
    for _ in saved:
        console.rule(f"{path} changed: checking again")
        _check_once(ex, path, False, as_json, timeout)


def _check_once(ex: Exercise, path: Path, hint: bool, as_json: bool, timeout: float) -> bool:
    from looplab.lessons.progress import Progress
    from looplab.lessons.runner import run_check

    result = run_check(ex.id, path, timeout)
    progress = Progress.load()
    if result.status == "pass":
        progress.mark_passed(ex.id)
        progress.save()  # kept before anything is printed: an interrupt cannot lose it
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        _report(ex, result, progress, hint)
        progress.save()  # the hints shown
    sys.stdout.flush()
    return result.status == "pass"


def _report(ex: Exercise, result: CheckResult, progress: Progress, more: bool) -> None:
    """Print the verdict; on failure the first failed test, and one hint (``more``: the next
    of the ordered hints, counted in ``progress``)."""
    if result.status == "pass":
        console.print(
            f"[green]pass[/]: {ex.id} {ex.function} passes all {len(result.tests)} "
            f"tests. See the reference: [bold]looplab check {ex.id} --solution[/]"
        )
        return
    if result.status == "error" and not result.tests:
        console.print(f"[red]error[/]: {ex.id} {ex.function} could not be checked", highlight=False)
        console.print(result.message, markup=False, highlight=False)
    else:
        failed = result.failed
        console.print(
            f"[red]fail[/]: {ex.id} {ex.function}: {len(failed)} of "
            f"{len(result.tests)} tests failed",
            highlight=False,
        )
        console.print(failed[0].message, markup=False, highlight=False)
        if failed[0].output:
            console.print(f"your function printed:\n{failed[0].output[:500]}", markup=False)
        if len(failed) > 1:
            others = ", ".join(t.name for t in failed[1:])
            console.print(f"(also failed: {others})", markup=False, highlight=False)
    shown = progress.hints.get(ex.id, 0)
    if result.hint:
        console.print(f"hint: {result.hint}", markup=False, highlight=False)
    if more or not result.hint:
        shown = min(shown + 1, len(ex.hints)) if more else max(shown, 1)
        progress.hints[ex.id] = shown
        last = " (the last one)" if shown == len(ex.hints) else ""
        console.print(
            f"hint {shown} of {len(ex.hints)}{last}: {ex.hints[shown - 1]}",
            markup=False,
            highlight=False,
        )
    if shown < len(ex.hints):
        console.print(f"a more specific hint: looplab check {ex.id} --hint", highlight=False)
