"""``looplab train``: the main job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from looplab.cli import app
from looplab.cli.options import config_options
from looplab.cli.output import console, err_console, metrics_table


@app.command()
@config_options
def train(config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> None:
    """Train a model (default: an MLP on moons) and write runs/<name>/ with its report."""
    import time

    from looplab.config import make_config
    from looplab.pipeline import train as run_training
    from looplab.report.html import run_title
    from looplab.train.progress import ProgressBar

    config = make_config(config_file, **(overrides or {}))
    started = time.perf_counter()
    result = run_training(
        config,
        callbacks=[ProgressBar(err_console)],
        on_note=lambda note: err_console.print(f"[yellow]note:[/] {note}"),
    )
    seconds = time.perf_counter() - started
    console.print(metrics_table(result.history.last, result.test, run_title(result)))
    console.print(f"{len(result.history)} epochs in {seconds:.1f} s")
    if result.run_dir is not None:
        console.print(f"run saved in [bold]{result.run_dir}[/]")
        console.print(f"report: [bold]{result.report}[/]")
