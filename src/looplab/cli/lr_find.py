"""``looplab lr-find``: the learning-rate range test on a copy of the model a config builds.

Writes ``<out>/lr-find-<dataset>-<time>/`` (``--out`` and ``--name`` choose it) with
``lr_find.png`` (loss against learning rate) and ``lr_find.csv`` (lr, loss, smoothed loss per
step), and prints the suggested learning rate.
"""

from __future__ import annotations

from pathlib import Path

import typer

from looplab.cli import app
from looplab.cli.options import config_options
from looplab.cli.output import console, err_console, exit_if_signalled

# Module-level options, not Annotated: config_options re-signs the command (see cli/sweep.py).
START_LR = typer.Option(1e-6, help="learning rate of the first step")
END_LR = typer.Option(10.0, help="learning rate of the last step (if the loss has not exploded)")
STEPS = typer.Option(200, help="steps of the test, the rate growing exponentially between them")


@app.command("lr-find")
@config_options
def lr_find(
    start_lr: float = START_LR,
    end_lr: float = END_LR,
    steps: int = STEPS,
    config_file: Path | None = None,
    overrides: dict[str, object] | None = None,
) -> None:
    """Find a learning rate: train a copy of the model while the rate grows, watch the loss."""
    import csv
    import io
    import math
    import signal
    import time

    from looplab.cli.landscape import LazyProgress
    from looplab.cli.options import load_config
    from looplab.config import check_name
    from looplab.data.prepared import load_prepared
    from looplab.experiments.lr_find import check_range, lr_range_test
    from looplab.files import write_atomic
    from looplab.models.mlp import build_model
    from looplab.plots.lr_find import lr_find_plot
    from looplab.plots.style import save
    from looplab.run.build import check_fits_data, model_spec
    from looplab.run.directory import create_run_dir, status_of, write_status
    from looplab.watch.interrupt import SignalCatcher

    with SignalCatcher(immediate=True) as signals:  # until the checks pass: leave at once
        overrides = dict(overrides or {})
        name = overrides.pop("name", None)
        config = load_config(config_file, **overrides)
        if name is not None:
            check_name(str(name))
        check_range(start_lr, end_lr, steps)
        data = load_prepared(config)
        check_fits_data(config, data)  # batch norm on one-row batches, the data's values, memory
        model = build_model(model_spec(config, data), seed=config.seed)
        signals.raise_if_caught()  # in case a raise from the handler was lost
        signals.immediate = False  # from here on, finished work is kept
        stamp = time.strftime("%Y%m%d-%H%M%S")
        given = None if name is None else str(name)  # --name, else a name of its own
        out = create_run_dir(config.out, given, config, f"lr-find-{data.name}-{stamp}")
        progress = LazyProgress("range test")
        progress(0, steps)
        with status_of(out, kind="lr-find"):
            result = lr_range_test(
                model, data, config, start_lr=start_lr, end_lr=end_lr, steps=steps,
                on_step=progress, stop=lambda: signals.signum is not None,
            )  # fmt: skip
            if progress.progress is not None:
                progress.progress.stop()
            mlp = f"MLP {'-'.join(map(str, config.hidden))}"
            what = mlp if config.model == "mlp" else "linear model"
            title = f"LR range test — {data.name}: {what}, {config.optimizer}, "
            title += f"batch {config.batch_size}"
            text = io.StringIO(newline="")
            writer = csv.writer(text)
            writer.writerow(["step", "lr", "loss", "smoothed_loss"])
            for i, row in enumerate(zip(result.lrs, result.losses, result.smoothed, strict=True)):
                writer.writerow([i + 1, *row])
            write_atomic(out / "lr_find.csv", text.getvalue().encode())
            if result.lrs:
                save(lr_find_plot(result, title), str(out / "lr_find.png"))
            if signals.signum is None:
                write_status(out, "complete", kind="lr-find")
        if result.interrupted and signals.signum is not None:
            err_console.print(
                f"interrupted ({signal.Signals(signals.signum).name}) after {result.steps} of "
                f"{steps} steps: the steps done are in {out} (lr_find.csv"
                f"{', lr_find.png' if result.lrs else ''}); run it again for a suggestion",
                highlight=False,
                soft_wrap=True,
            )
            write_status(out, "interrupted", kind="lr-find")
            raise typer.Exit(128 + signals.signum)
    end = "the loss exploded" if result.stopped_early else "the end lr was reached"
    console.print(
        f"{result.steps} steps from lr {start_lr:g}; stopped when {end} "
        f"(lr {result.lrs[-1]:.3g}); lowest smoothed loss at lr {result.min_lr:.3g}"
    )
    if math.isfinite(result.suggestion):
        console.print(
            f"suggested learning rate: [bold]{result.suggestion:.3g}[/] "
            f"(steepest fall of the loss); try --lr {result.suggestion:.2g}"
        )
    else:
        console.print("no suggestion: the loss never fell; try a larger --end-lr or more --steps")
    console.print(f"wrote [bold]{out / 'lr_find.png'}[/] and lr_find.csv")
    exit_if_signalled(signals, "range test")
