"""``looplab runs [DIR]``: the runs under DIR with their status, and how to resume the
interrupted ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from looplab.cli import app
from looplab.cli.output import console, fmt

STYLES = {"complete": "green", "interrupted": "yellow", "failed": "red", "running": "cyan"}


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
    """List runs: status (complete, interrupted, failed, running), dataset, best metric, age."""
    from looplab.run.listing import list_runs

    infos = list_runs(directory)
    if not infos:
        console.print(f"no runs in {directory}; start one with `looplab train`")
        return
    table = Table(title=f"runs in {directory}")
    for column in ("run", "status", "dataset", "epochs", "best validation", "age"):
        table.add_column(column, justify="right" if column in ("epochs", "age") else "left")
    for info in infos:
        best = f"{info.best[0].removeprefix('val_')} {fmt(info.best[1])}" if info.best else "-"
        style = STYLES.get(info.status, "")
        status = f"[{style}]{info.status}[/]" if style else info.status
        table.add_row(info.path.name, status, info.dataset, info.epochs, best, age(info.age_s))
    console.print(table)
    for info in infos:
        if info.resume_command:
            console.print(f"resume {info.path.name}: {info.resume_command}", soft_wrap=True)
        elif info.status == "failed" and info.message:
            console.print(f"{info.path.name} failed: {info.message}", soft_wrap=True)
