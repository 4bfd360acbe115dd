"""``looplab train``: the main job."""

from __future__ import annotations

from pathlib import Path

import typer

from looplab.cli import app
from looplab.cli.options import config_options
from looplab.cli.output import (
    coefficients_table,
    console,
    err_console,
    exit_if_signalled,
    metrics_table,
)


@app.command()
@config_options
def train(
    resume: Path | None = typer.Option(  # noqa: B008 - typer's way to declare an option
        None,
        "--resume",
        metavar="RUN_DIR",
        help="continue this interrupted run exactly where it stopped (flags may add epochs)",
    ),
    config_file: Path | None = None,
    overrides: dict[str, object] | None = None,
) -> None:
    """Train a model (default: an MLP on moons) and write runs/<name>/ with its report."""
    import shlex
    import time

    from looplab import cli
    from looplab.cli.collector import PausedCollector

    if resume is not None:
        from looplab.run.resume import resume_config

        config = resume_config(resume, config_file, overrides or {})
    else:
        from looplab.cli.options import load_config

        config = load_config(config_file, **(overrides or {}))  # a mistake ends here, at once
    with PausedCollector() as collector:  # back on when training starts (cli/collector.py)
        from looplab.inspect.coefficients import linear_coefficients, output_names
        from looplab.pipeline import train as run_training
        from looplab.run.result import run_title
        from looplab.watch.interrupt import Interrupted, SignalCatcher
        from looplab.watch.progress import ProgressBar

        bar = ProgressBar(err_console)
        try:
            with SignalCatcher(immediate=True) as signals:  # immediate until training starts
                result = run_training(
                    config,
                    callbacks=[collector.on_at_fit_start(), bar],
                    on_note=lambda note: err_console.print(f"[yellow]note:[/] {note}"),
                    resume=resume,
                    signals=signals,
                )
        except Interrupted as exc:
            if bar.progress is not None:
                bar.progress.stop()
            run_dir = signals.run_dir
            saved = (
                f"checkpoint saved: {exc.checkpoint}"
                if exc.checkpoint
                else "stopped at once; the last good checkpoint is intact"
                if run_dir is not None
                else "stopped before training started; nothing was written"
            )
            err_console.print(f"interrupted ({exc}): {saved}", highlight=False, soft_wrap=True)
            if run_dir is not None:
                command = f"looplab train --resume {shlex.quote(str(run_dir))}"
                err_console.print(f"resume with: {command}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except BaseException:
            if bar.progress is not None:  # fit stopped on an error: clear the bar, keep the message
                bar.progress.live.transient = True
                bar.progress.stop()
            raise
    seconds = time.perf_counter() - cli.started  # from the command's start: imports included
    console.print(f"[bold]{run_title(result)}[/]")  # what was run, then how it ended
    console.print(metrics_table(result.final))
    for line in result.about_final:
        console.print(line, style="dim", highlight=False)
    data = result.data
    outputs = output_names(data.task, data.class_names, data.target_name)
    coef = linear_coefficients(result.model, data.preprocessor, data.feature_names, outputs)
    if coef is not None:
        console.print(coefficients_table(coef))
    console.print(
        f"{len(result.history)} epochs in {result.history.seconds:.2f} s of training and "
        f"validation (the whole command: {seconds:.1f} s)"
    )
    if result.run_dir is not None:
        console.print(f"run saved in [bold]{result.run_dir}[/]")
        console.print(f"report: [bold]{result.report}[/]")
    exit_if_signalled(signals, "training")  # it came while the finished run was being written
