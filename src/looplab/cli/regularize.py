"""``looplab regularize``: the overfitting demo, one run per remedy, and the gap table; with an
image dataset (``--dataset mnist-5k``), the modern remedies of lesson 3.7 over several seeds.

Writes ``<out>/regularize-<time>/`` (``--out`` and ``--name`` choose it): ``results.csv`` and
``results.md``, rewritten as each remedy finishes (an interrupted demo keeps the remedies it
finished), then ``gap.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from looplab.cli import app
from looplab.cli.options import config_options
from looplab.cli.output import console, err_console, exit_if_signalled, fmt

if TYPE_CHECKING:
    from rich.table import Table

    from looplab.experiments.image_regularization import RemedySeeds
    from looplab.experiments.regularization import RemedyResult
    from looplab.watch.interrupt import Interrupted, SignalCatcher

Rows = list[list[str | int | float]]  # a results table's rows, numbers unrounded

# Module-level options, not Annotated: config_options re-signs the command (see cli/sweep.py).
SEEDS = typer.Option(3, help="images: seeds per remedy (mean and spread over them)")
FAST = typer.Option(False, "--fast", help="images: 2 epochs on 500 images (a smoke test)")


@app.command()
@config_options(show_defaults=False)
def regularize(
    seeds: int = SEEDS,
    fast: bool = FAST,
    config_file: Path | None = None,
    overrides: dict[str, object] | None = None,
) -> None:
    """Train a large MLP on a few noisy moons without and with each remedy (weight decay,
    dropout, early stopping, batch/layer norm, residual) and show the train/validation gap.
    With --dataset mnist-5k: an MLP on 1,000 digits with dropout, Adam + L2 vs AdamW, label
    smoothing, mixup, augmentation, EMA and SWA, each over --seeds seeds.
    Writes gap.png, results.csv and results.md into <out>/regularize-<time>/ (--out, --name)."""
    import contextlib
    import time

    from rich.progress import Progress

    from looplab.config import check_name, load_toml
    from looplab.data.registry import IMAGE_DATASETS
    from looplab.errors import ConfigError
    from looplab.experiments.regularization import (
        COLUMNS,
        overfit_config,
        remedy_configs,
        run_remedy,
        table_rows,
    )
    from looplab.plots.regularization import gap_bars
    from looplab.plots.style import save
    from looplab.run.checks import checked
    from looplab.run.directory import create_run_dir, status_of, write_status
    from looplab.watch.interrupt import Interrupted, SignalCatcher, StopOnSignal

    with SignalCatcher(immediate=True) as signals:  # until the checks pass: leave at once
        changes = {**(load_toml(config_file) if config_file else {}), **(overrides or {})}
        name = changes.pop("name", None)
        if name is not None:
            check_name(str(name))
        if seeds < 1:
            raise ConfigError(f"--seeds must be a positive whole number, got {seeds}")
        if str(changes.get("dataset", "moons")) in IMAGE_DATASETS:
            _images(changes, name, seeds, fast, signals)
            return
        base = checked(overfit_config().replace(**changes))
        configs = remedy_configs(base)  # every remedy checked with the data before any runs
        signals.raise_if_caught()  # in case a raise from the handler was lost
        signals.immediate = False  # from here on, finished work is kept
        stamp = time.strftime("%Y%m%d-%H%M%S")
        given = None if name is None else str(name)
        out = create_run_dir(base.out, given, base, f"regularize-{stamp}")
        widths = "-".join(str(w) for w in base.hidden)
        title = (
            f"{base.dataset} (n {base.n}, noise {base.noise}): MLP {widths}, {base.optimizer} "
            f"lr {base.lr:g}, batch {base.batch_size}, {base.epochs} epochs"
        )
        results: list[RemedyResult] = []
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(status_of(out, kind="regularize"))
                progress = stack.enter_context(Progress(console=err_console, transient=True))
                task = progress.add_task("remedies", total=len(configs))
                stop = StopOnSignal(signals)
                for remedy, config in configs.items():
                    results.append(run_remedy(remedy, config, [stop]))
                    # on disk as soon as it is done
                    _write_results(out, title, COLUMNS, table_rows(results))
                    progress.advance(task)
                save(gap_bars(results, f"Train and validation loss per remedy — {title}"),
                     str(out / "gap.png"))  # fmt: skip
                write_status(out, "complete", kind="regularize")
        except Interrupted as exc:
            _stopped(exc, out, title, COLUMNS, table_rows(results), len(configs))
    console.print(_table(title, COLUMNS, table_rows(results)))
    console.print(f"saved in [bold]{out}[/] (gap.png, results.csv, results.md)")
    exit_if_signalled(signals, "demo")


def _shown(rows: Rows) -> list[list[str]]:
    """Table cells as shown: words and counts as they are, numbers to four figures."""
    return [[str(c) if isinstance(c, str | int) else fmt(c) for c in row] for row in rows]


def _table(title: str, columns: Sequence[str], rows: Rows) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column == "remedy" else "right")
    for row in _shown(rows):
        table.add_row(*row)
    return table


def _stopped(
    exc: Interrupted, out: Path, title: str, columns: Sequence[str], rows: Rows, total: int
) -> NoReturn:
    """Ctrl-C or SIGTERM between remedies: show and keep the ones finished, say how to go on."""
    if rows:
        console.print(_table(title, columns, rows))
    err_console.print(
        f"interrupted ({exc}): {len(rows)} of {total} remedies finished and are kept in "
        f"{out / 'results.csv'}; run the command again for all of them",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(exc.exit_code) from None


def _write_results(
    out: Path, title: str, columns: Sequence[str], rows: Rows, after: str = ""
) -> None:
    """``results.csv`` (numbers unrounded) and ``results.md`` of the remedies done so far
    (``after``: a paragraph under the table)."""
    import csv
    import io

    from looplab.experiments.sweep import markdown
    from looplab.files import write_atomic

    text = io.StringIO(newline="")
    csv.writer(text).writerows([columns, *rows])
    write_atomic(out / "results.csv", text.getvalue().encode())
    page = (
        f"# {title}\n\n" + markdown(list(columns), _shown(rows)) + (f"\n{after}\n" if after else "")
    )
    write_atomic(out / "results.md", page.encode())


def _images(
    changes: dict[str, object], name: object, seeds: int, fast: bool, signals: SignalCatcher
) -> None:
    """The image remedies over ``seeds`` seeds: the table, results.csv and results.md rewritten
    as each remedy finishes, then gap.png. Runs inside the command's SignalCatcher."""
    import contextlib
    import time

    from rich.progress import Progress

    from looplab.experiments.image_regularization import (
        IMAGE_COLUMNS,
        WHY_ADAMW,
        RemedySeeds,
        image_config,
        image_remedy_configs,
        image_table_rows,
        run_image_remedy,
    )
    from looplab.plots.image_regularization import remedy_bars
    from looplab.plots.style import save
    from looplab.run.checks import checked
    from looplab.run.directory import create_run_dir, status_of, write_status
    from looplab.watch.interrupt import Interrupted, StopOnSignal

    base = checked(image_config(fast).replace(**changes))
    configs = image_remedy_configs(base)  # every remedy checked with the data before any runs
    signals.raise_if_caught()
    signals.immediate = False  # from here on, finished work is kept
    stamp = time.strftime("%Y%m%d-%H%M%S")
    given = None if name is None else str(name)
    out = create_run_dir(base.out, given, base, f"regularize-{base.dataset}-{stamp}")
    train_rows = round(5000 * (1 - base.val_fraction - base.test_fraction))
    title = (
        f"{base.dataset}, {train_rows} training images: MLP {'-'.join(map(str, base.hidden))}, "
        f"{base.optimizer} lr {base.lr:g}, batch {base.batch_size}, {base.epochs} epochs"
    )
    results: list[RemedySeeds] = []
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(status_of(out, kind="regularize"))
            progress = stack.enter_context(Progress(console=err_console, transient=True))
            task = progress.add_task("remedies x seeds", total=len(configs) * seeds)
            stop = StopOnSignal(signals)
            for remedy, config in configs.items():
                runs = []
                for seed in range(base.seed, base.seed + seeds):
                    runs.append(run_image_remedy(remedy, config.replace(seed=seed), [stop]))
                    progress.advance(task)
                results.append(RemedySeeds(remedy, runs))
                why = f"Adam + L2 vs AdamW: {WHY_ADAMW}"  # on disk as soon as it is done
                _write_results(out, title, IMAGE_COLUMNS, image_table_rows(results), why)
            save(remedy_bars(results, title), str(out / "gap.png"))
            write_status(out, "complete", kind="regularize")
    except Interrupted as exc:
        _stopped(exc, out, title, IMAGE_COLUMNS, image_table_rows(results), len(configs))
    console.print(_table(f"{title}; {seeds} seeds", IMAGE_COLUMNS, image_table_rows(results)))
    console.print(f"Adam + L2 vs AdamW: {WHY_ADAMW}")
    console.print(f"{len(results) * seeds} runs in {time.perf_counter() - started:.0f} s")
    console.print(f"saved in [bold]{out}[/] (gap.png, results.csv, results.md)")
    exit_if_signalled(signals, "demo")
