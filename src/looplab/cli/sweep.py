"""``looplab sweep``: train a grid of configurations over seeds and compare them.

``looplab sweep --vary batch_size=1,8,32,64 --vary lr=0.01,0.1 --seeds 3 --jobs 2`` trains
4 x 2 x 3 = 24 runs with one progress bar, then writes ``<out>/sweep-<time>/`` (``--out`` and
``--name`` choose it): results.csv, results.md, runs.csv, loss.png, metric.png, final.png,
report.html and the base config.toml. Values are separated by ``,``, or by ``;`` for the list
fields (``--vary "hidden=16;16,16;16,16,16"``), whose values are comma lists themselves.

Each run's outcome is saved in ``points/`` as it ends (and the sweep's settings in
``sweep.json``): Ctrl-C or SIGTERM stops the workers at once, says which runs are missing, and
``looplab sweep --resume DIR`` trains only those.
"""

from __future__ import annotations

from pathlib import Path

import typer

from looplab.cli import app
from looplab.cli.options import config_options
from looplab.cli.output import console, err_console, exit_if_signalled

# Module-level options, not Annotated: config_options re-signs the command, and typer must
# still find each typer.Option when it resolves the (string) annotations.
VARY = typer.Option(
    None,
    "--vary",
    metavar="FIELD=V1,V2",
    help="a config field and its values (give --vary twice for a grid); list fields such as "
    "hidden take ';' between values: \"hidden=16;16,16\"",
)
SEEDS = typer.Option(None, help="runs per configuration, with seeds seed, seed+1, ... [default: 1]")
JOBS = typer.Option(1, help="runs trained at once, one process each (2 uses both cores)")
TARGET = typer.Option(
    None, help="report the first epoch whose validation accuracy / R² >= this [default: 0.9]"
)
SAVE_RUNS = typer.Option(None, help="also write each run's directory (under the sweep's runs/)")
RESUME = typer.Option(
    None,
    "--resume",
    metavar="SWEEP_DIR",
    help="finish an interrupted sweep: train only the runs it has not finished",
)


@app.command()
@config_options
def sweep(
    vary: list[str] | None = VARY,
    seeds: int | None = SEEDS,
    jobs: int = JOBS,
    target_metric: float | None = TARGET,
    save_runs: bool | None = SAVE_RUNS,
    resume: Path | None = RESUME,
    config_file: Path | None = None,
    overrides: dict[str, object] | None = None,
) -> None:
    """Train one config with one or two fields varied, over seeds; compare curves and results."""
    import contextlib
    import math
    import shlex
    import time

    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.progress import TimeElapsedColumn as Elapsed
    from rich.progress import TimeRemainingColumn as Remaining
    from rich.table import Table

    from looplab.cli.options import load_config
    from looplab.config import check_name, from_dict, load_toml
    from looplab.errors import ConfigError, RunError, listing
    from looplab.experiments import sweep_store as store
    from looplab.experiments.sweep import (
        RunOutcome,
        check_points,
        max_jobs,
        parse_vary,
        run_sweep,
        summarize,
        sweep_points,
        table,
    )
    from looplab.files import shorten
    from looplab.report.sweep import sweep_title, write_sweep
    from looplab.run.checks import checked
    from looplab.run.directory import (
        RunLock,
        check_not_running,
        create_run_dir,
        read_status,
        status_of,
        write_status,
    )
    from looplab.watch.interrupt import Interrupted, SignalCatcher

    # the parent only checks and waits: one thread, so no OpenMP pool exists for the forked
    # workers to inherit
    torch.set_num_threads(1)
    with SignalCatcher(immediate=True) as signals:  # until the checks pass: leave at once
        overrides = dict(overrides or {})
        name = overrides.pop("name", None)
        if name is not None:
            check_name(str(name))
        if not 1 <= jobs <= max_jobs():
            raise ConfigError(
                f"--jobs must be from 1 to {max_jobs()} (two per core on this machine), got {jobs}"
            )
        if target_metric is not None and not math.isfinite(target_metric):
            raise ConfigError(f"--target-metric must be a finite number, got {target_metric}")
        saved: store.SweepSettings | None = None
        if resume is not None:  # the sweep's own settings, and nothing given now may change them
            saved = store.read_settings(resume)
            values = {**saved.base, **(load_toml(config_file) if config_file else {}), **overrides}
            values["out"] = saved.base.get("out", "runs")
            base = checked(from_dict(values))
            now = store.SweepSettings(
                list(vary) if vary else saved.vary,
                seeds if seeds is not None else saved.seeds,
                saved.target,
                save_runs if save_runs is not None else saved.save_runs,
                base.to_dict(),
            )
            store.check_same(resume, saved, now)
        else:
            if not vary:
                raise ConfigError("sweep needs --vary FIELD=V1,V2 (or --resume SWEEP_DIR)")
            base = load_config(config_file, **overrides)
            now = store.SweepSettings(
                list(vary), 1 if seeds is None else seeds, 0.9, bool(save_runs), base.to_dict()
            )
        target = target_metric if target_metric is not None else now.target
        now.target = target
        axes = [parse_vary(text) for text in now.vary]
        points = sweep_points(base, axes, now.seeds)
        check_points(points)  # every run checked with its data before any trains
        complete = resume is not None and read_status(resume)["status"] == "complete"
        if (
            resume is not None
            and complete
            and len(store.load_outcomes(resume, points)) == len(points)
        ):
            raise RunError(
                f"sweep {shorten(str(resume))!r} is already complete ({len(points)} runs); "
                f"its results are in {shorten(str(resume / 'results.md'))}"
            )
        signals.raise_if_caught()  # in case a raise from the handler was lost
        signals.immediate = False  # from here on, finished runs are kept: stop at safe points
        # ---- every check has passed: the sweep's directory, then the runs ----
        with contextlib.ExitStack() as stack:
            if resume is not None:
                lock = stack.enter_context(RunLock(resume))
                lock.acquire(create=False)  # refused while another process runs this sweep
                if lock.fd is None:
                    check_not_running(resume)
                lock.acquire()
                out = resume
            else:
                stamp = time.strftime("%Y%m%d-%H%M%S")
                given = None if name is None else str(name)  # --name, else a name of its own
                out = create_run_dir(base.out, given, base, f"sweep-{stamp}")
                stack.enter_context(RunLock(out)).acquire()
                store.write_settings(out, now, len(points))
                base.save(out / "config.toml")
            done = store.load_outcomes(out, points)
            outcomes: dict[int, RunOutcome] = dict(done)
            title = sweep_title(base, axes, now.seeds)
            todo = len(points) - len(done)
            again = f", {len(done)} already done" if done else ""
            err_console.print(f"{title}: {len(points)} runs{again}, {jobs} at a time")
            progress = Progress(
                TextColumn("[bold]sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[last]}"),
                Elapsed(),
                Remaining(),
                console=err_console,
            )
            task = progress.add_task("sweep", total=len(points), completed=len(done), last="")

            def keep(outcome: RunOutcome) -> None:  # on disk the moment it ends
                store.save_outcome(out, outcome)
                outcomes[outcome.point.index] = outcome
                what = "failed" if outcome.error else "done"
                last = f"{what}: {outcome.point.label}, seed {outcome.point.seed}"
                progress.update(task, advance=1, last=last)

            started = time.perf_counter()
            try:
                with status_of(out, kind="sweep"), progress:
                    runs_dir = out / "runs" if now.save_runs else None
                    run_sweep(points, jobs, keep, runs_dir, signals, done=set(done))
            except Interrupted as exc:
                missing = [f"{p.label} seed {p.seed}" for p in points if p.index not in outcomes]
                err_console.print(
                    f"interrupted ({exc}): {len(outcomes)} of {len(points)} runs finished and are "
                    f"saved in {out}; missing {len(missing)}: {listing(missing, 5)}",
                    highlight=False,
                    soft_wrap=True,
                )
                err_console.print(
                    f"continue with: looplab sweep --resume {shlex.quote(str(out))}",
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(exc.exit_code) from None
            seconds = time.perf_counter() - started
            ordered = [outcomes[p.index] for p in points]
            summaries = summarize(ordered, target)
            write_sweep(out, base, axes, ordered, summaries, target, seconds, jobs)
            write_status(out, "complete", kind="sweep")
        header, rows = table(summaries, axes, target)
        n = len(axes)  # the terminal gets mean ± std in one column, to fit 80 characters
        header = [*header[:n], "seeds", header[n + 1] + " ± std", *header[n + 3 :]]
        rows = [[*r[:n], r[n], f"{r[n + 1]} ± {r[n + 2]}", *r[n + 3 :]] for r in rows]
        result = Table(title=title)
        for i, column in enumerate(header):
            result.add_column(column, justify="left" if i < n else "right")
        for row in rows:
            result.add_row(*row)
        console.print(result)
        for outcome in ordered:
            if outcome.error:
                err_console.print(
                    f"[yellow]note:[/] {outcome.point.label}, seed {outcome.point.seed} failed: "
                    f"{outcome.error}",
                    highlight=False,
                    soft_wrap=True,
                )
        console.print(f"{todo} runs in {seconds:.1f} s with --jobs {jobs}")
        console.print(f"sweep saved in [bold]{out}[/] (results.csv, results.md, report.html)")
    exit_if_signalled(signals, "sweep")
