"""``looplab runs [DIR]``: the runs under DIR with their status, and how to resume the
interrupted ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from looplab.cli import app
from looplab.cli.output import console, fmt

WIDE = 100  # columns from which the dataset gets its own column

STYLES = {
    "complete": "green",
    "interrupted": "yellow",
    "failed": "red",
    "running": "cyan",
    "damaged": "red",
}


def age(seconds: float | None) -> str:
    """``42 s``, ``5 min``, ``3 h``, ``2 d``."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


@app.command()
def runs(
    directory: Annotated[
        Path, typer.Argument(help="where the run directories are (train's --out)")
    ] = Path("runs"),
) -> None:
    """List runs and experiments: kind (train, sweep, compare...), status (complete,
    interrupted, failed, running, damaged), dataset, progress, best metric, age."""
    from looplab.run.listing import list_runs

    infos = list_runs(directory)
    if not infos:
        console.print(f"no runs in {directory}; start one with `looplab train`")
        return
    table = Table(title=f"runs in {directory}")
    wide = console.width >= WIDE  # narrower: the dataset goes under the run's name
    columns = ["run", "kind", "status", *(["dataset"] if wide else []), "epochs", "best", "age"]
    for column in columns:
        right = column in ("epochs", "age")
        # every cell folds onto more lines rather than lose its end: names that differ only in
        # their last characters (seed1, seed2...) stay distinguishable at 80 columns
        table.add_column(
            column,
            justify="right" if right else "left",
            overflow="fold",
            no_wrap=right,
            ratio=2 if column == "run" else None,
            min_width=16 if column == "run" else None,
        )
    for info in infos:
        best = f"{info.best[0].removeprefix('val_')} {fmt(info.best[1])}" if info.best else "-"
        style = STYLES.get(info.status, "")
        status = f"[{style}]{info.status}[/]" if style else info.status
        name = info.path.name if wide else f"{info.path.name}\n[dim]{info.dataset}[/]"
        dataset = [info.dataset] if wide else []
        table.add_row(name, info.kind, status, *dataset, info.epochs, best, age(info.age_s))
    console.print(table)
    for info in infos:
        if info.resume_command:
            console.print(f"resume {info.path.name}: {info.resume_command}", soft_wrap=True)
        elif info.status in ("failed", "damaged") and info.message:
            console.print(f"{info.path.name} {info.status}: {info.message}", soft_wrap=True)
