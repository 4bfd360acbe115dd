"""``looplab predict``: a saved run's predictions for the rows of a CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from looplab.cli import app
from looplab.cli.collector import collector_paused
from looplab.cli.output import console, fmt


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

    from looplab.run.predict import predict_rows

    header, rows, predictions = predict_rows(run, input)
    if output is not None:
        try:
            with output.open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow([*header, *predictions.columns])
                for row, values in zip(rows, predictions.values, strict=True):
                    writer.writerow([row.get(h, "") for h in header] + [str(v) for v in values])
        except OSError as exc:
            from looplab.errors import RunError

            raise RunError(
                f"cannot write {str(output)!r} ({exc.strerror}); choose another --output"
            ) from None
        console.print(f"wrote {len(rows)} predictions to {output}")
        return
    table = Table(title=f"predictions of {run}")
    for column in [*header, *predictions.columns]:
        table.add_column(column)
    for row, values in list(zip(rows, predictions.values, strict=True))[:50]:
        table.add_row(
            *[row.get(h, "") for h in header],
            *[fmt(v) if isinstance(v, float) else v for v in values],
        )
    console.print(table)
    if len(rows) > 50:
        console.print(f"... {len(rows) - 50} more rows: use --output FILE.csv to get them all")
