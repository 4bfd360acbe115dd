"""``looplab regularize``: the overfitting demo, one run per remedy, and the gap table."""

from __future__ import annotations

from pathlib import Path

from looplab.cli import app
from looplab.cli.options import config_options
from looplab.cli.output import console, err_console, fmt


@app.command()
@config_options
def regularize(config_file: Path | None = None, overrides: dict[str, object] | None = None) -> None:
    """Train a large MLP on a few noisy moons without and with each remedy (weight decay,
    dropout, early stopping, batch/layer norm, residual) and print the train/validation gap."""
    from rich.progress import Progress
    from rich.table import Table

    from looplab.config import load_toml
    from looplab.experiments.regularization import REMEDIES, compare_remedies, overfit_config

    changes = {**(load_toml(config_file) if config_file else {}), **(overrides or {})}
    base = overfit_config().replace(**changes).validate()
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("remedies", total=len(REMEDIES))
        results = compare_remedies(base, on_result=lambda r: progress.advance(task))
    widths = "-".join(str(w) for w in base.hidden)
    table = Table(
        title=f"{base.dataset} (n {base.n}, noise {base.noise}): MLP {widths}, {base.optimizer} "
        f"lr {base.lr:g}, batch {base.batch_size}, {base.epochs} epochs"
    )
    for column in (
        "remedy",
        "epochs",
        "train loss",
        "val loss",
        "gap (val - train)",
        "train acc",
        "val acc",
    ):
        table.add_column(column, justify="left" if column == "remedy" else "right")
    for r in results:
        table.add_row(
            r.name,
            str(r.epochs),
            fmt(r.train_loss),
            fmt(r.val_loss),
            fmt(r.gap),
            fmt(r.train_accuracy),
            fmt(r.val_accuracy),
        )
    console.print(table)
