"""``looplab sweep``: train a grid of configurations over seeds and compare them.

``looplab sweep --vary batch_size=1,8,32,64 --vary lr=0.01,0.1 --seeds 3 --jobs 2`` trains
4 x 2 x 3 = 24 runs with one progress bar, then writes ``<out>/sweep-<time>/`` (``--out`` and
``--name`` choose it): results.csv, results.md, runs.csv, loss.png, metric.png, final.png,
report.html and the base config.toml. Values are separated by ``,``, or by ``;`` for the list
fields (``--vary "hidden=16;16,16;16,16,16"``), whose values are comma lists themselves.
"""

from __future__ import annotations

from pathlib import Path

import typer

from looplab.cli import app
from looplab.cli.options import config_options
from looplab.cli.output import console, err_console

# Module-level options, not Annotated: config_options re-signs the command, and typer must
# still find each typer.Option when it resolves the (string) annotations.
VARY = typer.Option(
    ...,
    "--vary",
    metavar="FIELD=V1,V2",
    help="a config field and its values (give --vary twice for a grid); list fields such as "
    "hidden take ';' between values: \"hidden=16;16,16\"",
)
SEEDS = typer.Option(1, help="runs per configuration, with seeds seed, seed+1, ...")
JOBS = typer.Option(1, help="runs trained at once, one process each (2 uses both cores)")
TARGET = typer.Option(0.9, help="report the first epoch whose validation accuracy / R² >= this")
SAVE_RUNS = typer.Option(False, help="also write each run's directory (under the sweep's runs/)")


@app.command()
@config_options
def sweep(
    vary: list[str] = VARY,
    seeds: int = SEEDS,
    jobs: int = JOBS,
    target_metric: float = TARGET,
    save_runs: bool = SAVE_RUNS,
    config_file: Path | None = None,
    overrides: dict[str, object] | None = None,
) -> None:
    """Train one config with one or two fields varied, over seeds; compare curves and results."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.progress import TimeElapsedColumn as Elapsed
    from rich.progress import TimeRemainingColumn as Remaining
    from rich.table import Table

    from looplab.cli.options import load_config
    from looplab.experiments.sweep import (
        RunOutcome,
        parse_vary,
        run_sweep,
        summarize,
        sweep_points,
        table,
    )
    from looplab.report.sweep import sweep_title, write_sweep
    from looplab.run.directory import create_run_dir

    overrides = dict(overrides or {})
    name = overrides.pop("name", None)
    base = load_config(config_file, **overrides)
    axes = [parse_vary(text) for text in vary]
    points = sweep_points(base, axes, seeds)
    given = None if name is None else str(name)  # --name, else a name of its own
    out = create_run_dir(base.out, given, base, f"sweep-{time.strftime('%Y%m%d-%H%M%S')}")
    title = sweep_title(base, axes, seeds)
    err_console.print(f"{title}: {len(points)} runs, {jobs} at a time")
    progress = Progress(
        TextColumn("[bold]sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        Elapsed(),
        Remaining(),
        console=err_console,
    )
    task = progress.add_task("sweep", total=len(points), last="")

    def advance(outcome: RunOutcome) -> None:
        done = f"done: {outcome.point.label}, seed {outcome.point.seed}"
        progress.update(task, advance=1, last=done)

    started = time.perf_counter()
    with progress:
        outcomes = run_sweep(points, jobs, advance, out / "runs" if save_runs else None)
    seconds = time.perf_counter() - started
    summaries = summarize(outcomes, target_metric)
    write_sweep(out, base, axes, outcomes, summaries, target_metric, seconds, jobs)
    header, rows = table(summaries, axes, target_metric)
    n = len(axes)  # the terminal gets mean ± std in one column, to fit 80 characters
    header = [*header[:n], "seeds", header[n + 1] + " ± std", *header[n + 3 :]]
    rows = [[*r[:n], r[n], f"{r[n + 1]} ± {r[n + 2]}", *r[n + 3 :]] for r in rows]
    result = Table(title=title)
    for i, column in enumerate(header):
        result.add_column(column, justify="left" if i < n else "right")
    for row in rows:
        result.add_row(*row)
    console.print(result)
    console.print(f"{len(points)} runs in {seconds:.1f} s with --jobs {jobs}")
    console.print(f"sweep saved in [bold]{out}[/] (results.csv, results.md, report.html)")
