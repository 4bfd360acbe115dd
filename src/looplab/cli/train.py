"""``looplab train``: the main job."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from looplab.run.distributed import Distributed


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
    """Train a model (default: an MLP on moons) and write runs/<name>/ with its report.

    With --nproc N it trains data-parallel on N processes of this machine (torchrun + DDP);
    under torchrun (`torchrun --nproc-per-node N -m looplab train ...`) each process is a rank.
    """
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
    from looplab.run import distributed

    place = distributed.launched()
    if place is None and config.nproc > 1:  # start the job's processes, and wait for them
        from looplab.run.launch import run_job

        code = run_job(config, resume)
        if code:
            raise typer.Exit(code)
        return
    primary = place is None or place.primary
    if place is not None:
        config = distributed.joined(config, place)
        distributed.start(place, config)
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
                    callbacks=[collector.on_at_fit_start(), bar] if primary else [],
                    on_note=lambda note: (
                        err_console.print(f"[yellow]note:[/] {note}") if primary else None
                    ),
                    resume=resume,
                    signals=signals,
                    place=place,
                )
        except Interrupted as exc:
            if not primary:  # rank 0 says what happened
                raise typer.Exit(exc.exit_code) from None
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
        except BaseException as exc:
            if bar.progress is not None:  # fit stopped on an error: clear the bar, keep the message
                bar.progress.live.transient = True
                bar.progress.stop()
            if place is not None:
                leave_after(exc, place)  # one line for a lost peer; rank 0 speaks
            raise
        finally:
            distributed.stop()
    if not primary:
        return
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


def leave_after(exc: BaseException, place: Distributed) -> None:
    """How a rank of a data-parallel job ends on an error: a user mistake is said by rank 0
    only (every rank meets it); a collective that failed because another rank died is said in
    one line (torchrun then says which rank it was and how it ended)."""
    from looplab.errors import LooplabError
    from looplab.run.distributed import peer_lost

    if isinstance(exc, LooplabError) and not place.primary:
        raise typer.Exit(2) from None
    if peer_lost(exc):
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(
            f"error: rank {place.rank} of {place.world}: another process of the data-parallel "
            f"job stopped ({first}); resume the run from its last checkpoint with "
            "`looplab train --resume RUN_DIR`\n"
        )
        raise typer.Exit(1) from None
