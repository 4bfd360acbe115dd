"""``looplab compare``: full batch vs stochastic vs mini-batch on the same start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from looplab.cli import app
from looplab.cli.options import config_options
from looplab.cli.output import console, err_console, exit_if_signalled, fmt


@app.command()
@config_options(show_defaults=False)
def compare(
    batch_sizes: Annotated[
        str, typer.Option(help="batch sizes to compare, comma-separated; 'full' is every row")
    ] = "1,8,32,full",
    seeds: Annotated[int, typer.Option(help="runs per batch size, seeds seed, seed+1, ...")] = 3,
    config_file: Path | None = None,
    overrides: dict[str, object] | None = None,
) -> None:
    """Train the same model from the same weights with each batch size; plot loss per epoch and
    per update, tabulate updates, time, final loss and noise. Defaults: SGD, lr 0.05, 20 epochs,
    a linear model on the linear dataset. Writes compare.png and CSVs under --out."""
    import contextlib
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from looplab.cli.options import load_config
    from looplab.config import load_toml
    from looplab.data.split import Split
    from looplab.errors import ConfigError
    from looplab.experiments.compare import (
        COMPARE_DEFAULTS,
        Comparison,
        RunCurves,
        check_seeds,
        compare_batch_sizes,
        compare_data,
        parse_batch_sizes,
    )
    from looplab.plots.compare import compare_figure
    from looplab.plots.style import save
    from looplab.run.directory import create_run_dir, status_of, write_status
    from looplab.watch.interrupt import Interrupted, SignalCatcher, StopOnSignal

    with SignalCatcher(immediate=True) as signals:  # until the checks pass: leave at once
        flags = dict(overrides or {})
        if "batch_size" in flags:
            raise ConfigError("compare trains every size of --batch-sizes; drop --batch-size")
        sizes = parse_batch_sizes(batch_sizes)
        in_file = load_toml(config_file) if config_file is not None else {}
        defaults = {k: v for k, v in COMPARE_DEFAULTS.items() if k not in in_file}
        config = load_config(config_file, **{**defaults, **flags})
        check_seeds(config, seeds)
        data = compare_data(config, sizes)  # bad sizes fail here, before any run
        signals.raise_if_caught()  # in case a raise from the handler was lost
        signals.immediate = False  # from here on, finished work is kept
        # ---- every check has passed: the output directory, then the runs ----
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = create_run_dir(config.out, config.name, config, f"compare-{stamp}")
        config.save(out / "config.toml")
        done = Comparison(config, sizes, [], [], 0)
        total = len(sizes) * seeds
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(status_of(out, kind="compare"))  # interrupted, if it is
                progress = stack.enter_context(
                    Progress(
                        TextColumn("[bold]runs"),
                        BarColumn(),
                        MofNCompleteColumn(),
                        TextColumn("{task.fields[last]}"),
                        console=err_console,
                    )
                )
                task = progress.add_task("runs", total=total, last="")

                def keep(run: RunCurves) -> None:  # every finished run is on disk at once
                    done.runs.append(run)
                    done.train_rows = len(data.train) if isinstance(data.train, Split) else 0
                    done.finished().write_csv(out)
                    last = f"{run.label}, seed {run.seed}: final loss {fmt(run.final_loss)}"
                    progress.update(task, advance=1, last=last)

                stop = StopOnSignal(signals)
                result = compare_batch_sizes(
                    config, sizes, seeds, on_run=keep, data=data, callbacks=[stop]
                )
                png = out / "compare.png"
                save(compare_figure(result), str(png))
                write_status(out, "complete", kind="compare")
        except Interrupted as exc:
            kept = done.finished()
            if kept.runs:
                save(compare_figure(kept), str(out / "compare.png"))
            missing = total - len(kept.runs)
            err_console.print(
                f"interrupted ({exc}): {len(kept.runs)} of {total} runs finished and are kept in "
                f"{out} (curves.csv, summary.csv{', compare.png' if kept.runs else ''}); "
                f"{missing} not run: run the command again for all of them",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(exc.exit_code) from None
    curves_csv, summary_csv = out / "curves.csv", out / "summary.csv"

    table = Table(
        title=f"{config.optimizer} on {config.dataset}, lr {config.lr:g}, {config.epochs} epochs, "
        f"{seeds} seed{'s' if seeds > 1 else ''} ({result.train_rows} training rows)"
    )
    for column in ("batch", "updates/epoch", "time (s)", "final loss", "noise (std)"):
        table.add_column(column, justify="left" if column == "batch" else "right", no_wrap=True)
    for row in result.summary():
        final = fmt(float(row["final_loss"]))
        if seeds > 1:
            final += f" ± {float(row['final_loss_std']):.2g}"
        noise = float(row["noise"])
        diverged = any(r.diverged_at for r in result.of(_size(row["batch_size"])))
        table.add_row(
            str(row["batch_size"]),
            str(int(float(row["updates_per_epoch"]))),
            f"{float(row['seconds']):.3f}",
            "diverged" if diverged else final,
            "-" if diverged else (fmt(noise) if noise == noise else "- (1 update)"),
        )
    console.print(table)
    console.print(
        "time: wall time of training; final loss: whole training split after the last epoch "
        "(mean ± std over seeds); noise: std of the per-update losses in the last epoch"
    )
    for run in result.runs:
        if run.diverged_at is not None:
            err_console.print(
                f"[yellow]note:[/] {run.label}, seed {run.seed} diverged: the loss was not finite "
                f"from update {run.diverged_at}; lower --lr, or leave that batch size out "
                "(the other runs are unaffected)",
                soft_wrap=True,
            )
    console.print(f"plot: [bold]{png}[/]")
    console.print(f"data: [bold]{curves_csv}[/], [bold]{summary_csv}[/]")
    exit_if_signalled(signals, "comparison")


def _size(text: object) -> int | str:
    return "full" if text == "full" else int(str(text))
