"""``looplab predict``: a saved run's predictions for the rows of a CSV file.

Rows that cannot be predicted (a value that is not a finite number, a category never seen in
training, every feature empty) get an empty prediction and a ``problem`` column, and a note on
stderr names them; the other rows are predicted. The terminal table shows the row number, the
prediction and its probabilities, and as many input columns as the terminal's width leaves
room for (``--output FILE.csv`` has every column).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from looplab.cli import app
from looplab.cli.collector import collector_paused
from looplab.cli.output import console, err_console, fmt

if TYPE_CHECKING:
    from looplab.run.predict import Predictions

SHOWN_ROWS = 50
MAX_CLASS_COLUMNS = 3  # more classes: the terminal shows the predicted class's probability
NOTE_WIDTH = 24  # characters kept for the note column; longer notes fold onto more lines


@app.command()
@collector_paused
def predict(
    run: Annotated[Path, typer.Argument(help="a run directory written by `looplab train`")],
    input: Annotated[Path, typer.Option("--input", help="CSV file with the feature columns")],
    output: Annotated[
        Path | None, typer.Option("--output", help="write predictions to this CSV")
    ] = None,
) -> None:
    """Predict with a saved run: class names and probabilities, or values."""
    import csv
    import io

    from looplab.errors import RunError, listing
    from looplab.files import shorten, write_atomic
    from looplab.run.predict import predict_rows

    header, rows, predictions = predict_rows(run, input)
    skipped = predictions.skipped
    extra = ["problem"] if skipped else []
    if output is not None:
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow([*header, *predictions.columns, *extra])
        for i, (row, values) in enumerate(zip(rows, predictions.values, strict=True)):
            problem = [predictions.problems[i]] if skipped else []
            writer.writerow([row.get(h, "") for h in header] + [str(v) for v in values] + problem)
        try:
            write_atomic(output, text.getvalue().encode())
        except OSError as exc:
            raise RunError(
                f"cannot write {shorten(str(output))!r} ({exc.strerror}); choose another --output"
            ) from None
        console.print(f"wrote {len(rows) - len(skipped)} predictions to {output}")
    else:
        console.print(_table(run, header, rows, predictions))
        if len(rows) > SHOWN_ROWS:
            more = len(rows) - SHOWN_ROWS
            console.print(f"... {more} more rows: use --output FILE.csv to get them all")
    if skipped:
        reasons = [f"row {i + 1}: {predictions.problems[i]}" for i in skipped]
        err_console.print(
            f"[yellow]note:[/] {len(skipped)} of {len(rows)} rows were not predicted "
            f"({listing(reasons, 3)}); fix them in the input CSV",
            highlight=False,
            soft_wrap=True,
        )


def _table(run: Path, header: list[str], rows: list[dict[str, str]], pred: Predictions) -> Table:
    """Row number, prediction, probabilities (or the predicted class's alone, past three
    classes), a note for rows with one, then the input columns that fit the terminal."""
    probs = [c for c in pred.columns if c.startswith("p(")]
    many = len(probs) > MAX_CLASS_COLUMNS
    titles = ["row", pred.columns[0], *(["p"] if many else probs)]
    noted = bool(pred.skipped) or any(pred.notes)
    cells: list[list[str]] = []
    for i, values in enumerate(pred.values[:SHOWN_ROWS]):
        numbers = [v for v in values[1:] if isinstance(v, float)]
        if many:
            numbers = [max(numbers)] if numbers else []
        texts = [fmt(v) for v in numbers] or ["-"] * (len(titles) - 2)
        first = values[0]
        shown = fmt(first) if isinstance(first, float) else (first or "-")
        line = [str(i + 1), shown, *texts]
        if noted:
            line.append(pred.problems[i] or pred.notes[i])
        cells.append(line)
    widths = [_width(t, [c[k] for c in cells]) + 3 for k, t in enumerate(titles)]
    used = sum(widths) + (NOTE_WIDTH if noted else 0)
    inputs = []
    for h in header:  # the input columns, at their widest cell, while they fit
        need = _width(h, [r.get(h, "") for r in rows[:SHOWN_ROWS]]) + 3
        if used + need > console.width - 4:
            break
        inputs.append(h)
        used += need
    table = Table(title=f"predictions of {run}", title_justify="left")
    for k, title in enumerate(titles):
        table.add_column(title, justify="right" if k != 1 else "left", no_wrap=k != 1)
    if noted:
        table.add_column("note", overflow="fold")
    for h in inputs:
        table.add_column(h, no_wrap=True)
    for row, line in zip(rows, cells, strict=False):
        table.add_row(*line, *[row.get(h, "") for h in inputs])
    if len(inputs) < len(header):
        left = len(header) - len(inputs)
        table.caption = f"{left} input column(s) left out to fit the terminal; --output has all"
    return table


def _width(title: str, cells: list[str]) -> int:
    return max([len(title), *(len(c) for c in cells)])
