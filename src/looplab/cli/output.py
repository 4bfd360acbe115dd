"""Terminal output: rich tables with numbers to 4 significant digits."""

from __future__ import annotations

import math
import signal
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from looplab.inspect.coefficients import LinearCoefficients
    from looplab.watch.interrupt import SignalCatcher

MAX_COEFFICIENTS = 24  # rows of weights the terminal shows; the report shows them all

console = Console()  # results go to stdout
err_console = Console(stderr=True)  # progress and notes go to stderr


def fmt(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.4g}"


def metrics_table(final: dict[str, dict[str, float]]) -> Table:
    """One column per split the run has (train, validation, and test when there is one), one
    row per metric."""
    table = Table()
    table.add_column("metric")
    splits = [s for s in ("train", "validation", "test") if s in final]
    for split in splits:
        table.add_column(split, justify="right")
    names = sorted({name for metrics in final.values() for name in metrics})
    for name in names:
        values = [final[split].get(name, math.nan) for split in splits]
        table.add_row(name, *(fmt(v) if math.isfinite(v) else "-" for v in values))
    return table


def coefficients_table(coef: LinearCoefficients) -> Table:
    """A linear model's weights and biases, as learned (on standardized data) and in the data's
    own units; the first ``MAX_COEFFICIENTS`` rows."""
    entries = coef.entries()
    several = len(coef.output_names) > 1
    more = len(entries) - MAX_COEFFICIENTS
    table = Table(
        title="what the linear model learned",
        title_justify="left",
        caption=f"... {more} more rows in the report" if more > 0 else None,
    )
    if several:
        table.add_column("output")
    table.add_column("term")
    table.add_column("learned (standardized)", justify="right")
    table.add_column("in data units", justify="right")
    for output, term, learned, raw in entries[:MAX_COEFFICIENTS]:
        table.add_row(*([Text(output)] if several else []), Text(term), fmt(learned), fmt(raw))
    return table


def exit_if_signalled(signals: SignalCatcher, what: str) -> None:
    """A signal that came while finished work was being written: the work is complete and
    kept; say so, and leave with 130 / 143 as the signal asks."""
    if signals.signum is not None:
        name = signal.Signals(signals.signum).name
        err_console.print(f"interrupted ({name}) after the {what} had finished: it is complete")
        raise typer.Exit(128 + signals.signum)
