"""``looplab regularize``: the overfitting demo, one run per remedy, and the gap table."""

from __future__ import annotations

from pathlib import Path

from looplab.cli import app
from looplab.cli.options import config_options
from looplab.cli.output import console, err_console, fmt


@app.command()
@config_options(show_defaults=False)
def regularize(config_file: Path | None = None, overrides: dict[str, object] | None = None) -> None:
    """Train a large MLP on a few noisy moons without and with each remedy (weight decay,
    dropout, early stopping, batch/layer norm, residual) and show the train/validation gap.
    Writes gap.png, results.csv and results.md into <out>/regularize-<time>/ (--out, --name)."""
    import csv
    import time

    from rich.progress import Progress
    from rich.table import Table

    from looplab.config import load_toml
    from looplab.experiments.regularization import (
        COLUMNS,
        REMEDIES,
        compare_remedies,
        overfit_config,
        table_rows,
    )
    from looplab.experiments.sweep import markdown
    from looplab.plots.regularization import gap_bars
    from looplab.plots.style import save
    from looplab.run.directory import create_run_dir

    changes = {**(load_toml(config_file) if config_file else {}), **(overrides or {})}
    name = changes.pop("name", None)
    base = overfit_config().replace(**changes).validate()
    out = create_run_dir(base.out, name, base, f"regularize-{time.strftime('%Y%m%d-%H%M%S')}")
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("remedies", total=len(REMEDIES))
        results = compare_remedies(base, on_result=lambda r: progress.advance(task))
    widths = "-".join(str(w) for w in base.hidden)
    title = (
        f"{base.dataset} (n {base.n}, noise {base.noise}): MLP {widths}, {base.optimizer} "
        f"lr {base.lr:g}, batch {base.batch_size}, {base.epochs} epochs"
    )
    rows = table_rows(results)
    shown = [[str(c) if isinstance(c, str | int) else fmt(c) for c in row] for row in rows]
    files = {name: out / name for name in ("gap.png", "results.csv", "results.md")}
    with files["results.csv"].open("w", newline="") as f:
        csv.writer(f).writerows([COLUMNS, *rows])
    files["results.md"].write_text(f"# {title}\n\n" + markdown(COLUMNS, shown))
    save(gap_bars(results, f"Train and validation loss per remedy — {title}"),
         str(files["gap.png"]))  # fmt: skip
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "remedy" else "right")
    for row in shown:
        table.add_row(*row)
    console.print(table)
    console.print(f"saved in [bold]{out}[/] ({', '.join(files)})")
