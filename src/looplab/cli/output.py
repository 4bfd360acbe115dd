"""Terminal output: rich tables with numbers to 4 significant digits."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

console = Console()  # results go to stdout
err_console = Console(stderr=True)  # progress and notes go to stderr


def fmt(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.4g}"


def metrics_table(last: dict[str, float], test: dict[str, float]) -> Table:
    """Train / validation (/ test, when there is a test split) columns for each metric of the
    last epoch."""
    table = Table()
    table.add_column("metric")
    splits = ("train", "validation", "test") if test else ("train", "validation")
    for name in splits:
        table.add_column(name, justify="right")
    names = sorted({k.split("_", 1)[1] for k in last if k.startswith(("train_", "val_"))})
    for name in names:
        values = [
            last.get(f"train_{name}", math.nan),
            last.get(f"val_{name}", math.nan),
            test.get(name, math.nan),
        ][: len(splits)]
        table.add_row(name, *(fmt(v) if math.isfinite(v) else "-" for v in values))
    return table
