"""``looplab landscape``: the loss around a trained run's weights, or linear regression's bowl.

``looplab landscape RUN`` writes ``landscape_line.png`` (initial -> final weights),
``landscape_contour.png`` and ``landscape_surface.png`` (a 2-D slice along filter-normalized
random directions, with the run's saved path projected on it) into the run directory, and adds
them to its report.
``looplab landscape --linear`` trains linear regression with full-batch, mini-batch and
stochastic descent from one start and draws their paths on L(w, b) (``landscape_linear.png``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from looplab.cli import app
from looplab.cli.output import console, err_console

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class LazyProgress:
    """A rich bar that appears only once the work looks like it will take over a second."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.started = time.perf_counter()
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        if done == 0:  # a new grid begins: start timing afresh
            self.started, self.progress = time.perf_counter(), None
            return
        elapsed = time.perf_counter() - self.started
        if self.progress is None and done < total and elapsed * total / done > 1.0:
            self.progress = Progress(
                "[bold]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=total)
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=done)
            if done >= total:
                self.progress.stop()


MAX_RESOLUTION = 501  # grid points per axis: 251,001 loss evaluations, minutes on a laptop


def _parse_batch_sizes(text: str) -> list[int | str]:
    from looplab.config import coerce
    from looplab.errors import ConfigError

    sizes: list[int | str] = [coerce("batch_size", p) for p in text.split(",") if p.strip()]
    if not sizes or any(s != "full" and int(s) < 1 for s in sizes):
        raise ConfigError(
            f"--batch-sizes must be positive whole numbers or 'full', got {text!r}; e.g. full,8,1"
        )
    return sizes


def _check_options(resolution: int, span: float, seed: int, rows: int, out: Path | None) -> None:
    import math

    from looplab.config import SEED_MAX
    from looplab.errors import ConfigError

    if not 3 <= resolution <= MAX_RESOLUTION:
        raise ConfigError(f"--resolution must be from 3 to {MAX_RESOLUTION}, got {resolution}")
    if not (math.isfinite(span) and 0 < span <= 1e6):
        raise ConfigError(f"--span must be a positive number (1 is the weights' scale), got {span}")
    if not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"--seed must be a whole number from 0 to {SEED_MAX}, got {seed}")
    if rows < 1:
        raise ConfigError(f"--rows must be a positive whole number, got {rows}")
    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a file; give a directory for the PNGs")


@app.command()
def landscape(
    run: Annotated[
        Path | None, typer.Argument(help="a run directory written by `looplab train`")
    ] = None,
    resolution: Annotated[int, typer.Option(help="grid points per axis of the 2-D slice")] = 41,
    span: Annotated[float, typer.Option(help="the slice covers [-span, span] on each axis")] = 1.0,
    seed: Annotated[int, typer.Option(help="seed of the random directions")] = 0,
    rows: Annotated[int, typer.Option(help="training rows in the fixed evaluation batch")] = 1024,
    include_bias_norm: Annotated[
        bool, typer.Option(help="move biases and normalization parameters too")
    ] = False,
    linear: Annotated[
        bool, typer.Option("--linear", help="linear regression's L(w, b) with descent paths")
    ] = False,
    batch_sizes: Annotated[
        str, typer.Option(help="--linear: batch sizes whose paths are drawn, e.g. 1,8,full")
    ] = "full,8,1",
    lr: Annotated[float, typer.Option(help="--linear: learning rate of plain SGD")] = 0.1,
    epochs: Annotated[int, typer.Option(help="--linear: epochs of each path")] = 20,
    dataset: Annotated[str, typer.Option(help="--linear: a one-feature regression dataset")] = (
        "linear"
    ),
    out: Annotated[
        Path | None,
        typer.Option(help="directory for the PNGs (default: RUN, or runs/landscape-linear-TIME)"),
    ] = None,
) -> None:
    """Draw loss landscapes: a run's 1-D line and 2-D slice, or (--linear) the (w, b) bowl."""
    from looplab.errors import ConfigError

    _check_options(resolution, span, seed, rows, out)
    if linear:
        _linear(batch_sizes, lr, epochs, dataset, seed, out)
        return
    if run is None:
        raise ConfigError("give a run directory (looplab landscape runs/NAME) or --linear")
    _network(run, resolution, span, seed, rows, include_bias_norm, out)


def _linear(
    batch_sizes: str, lr: float, epochs: int, dataset: str, seed: int, out: Path | None
) -> None:
    from looplab.cli.options import load_config
    from looplab.inspect.landscape import linear_landscape
    from looplab.plots.landscape import linear_contour
    from looplab.plots.style import save
    from looplab.run.directory import create_run_dir

    config = load_config(  # the bowl over (w, b) of y itself: its target is not standardized
        dataset=dataset, model="linear", optimizer="sgd", lr=lr, epochs=epochs, seed=seed,
        standardize_target=False,
    )  # fmt: skip
    sizes = _parse_batch_sizes(batch_sizes)
    with err_console.status("training linear regression once per batch size"):
        land = linear_landscape(config, sizes)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = out or create_run_dir("runs", None, config, f"landscape-linear-{stamp}")
    target.mkdir(parents=True, exist_ok=True)
    title = f"{dataset}: L(w, b), plain SGD lr {lr:g}, {epochs} epochs per path"
    file = target / "landscape_linear.png"
    save(linear_contour(land, title), str(file))
    w, b = land.optimum
    console.print(f"optimum (lstsq): w = {w:.4g}, b = {b:.4g}, loss {land.optimum_loss:.4g}")
    for label, path in land.paths.items():
        end = path[-1]
        console.print(f"{label}: {len(path) - 1} steps, ends at w = {end[0]:.4g}, b = {end[1]:.4g}")
    console.print(f"wrote [bold]{file}[/]")


def _network(
    run: Path,
    resolution: int,
    span: float,
    seed: int,
    rows: int,
    include_bias_norm: bool,
    out: Path | None,
) -> None:
    from looplab.data.prepared import load_prepared
    from looplab.errors import RunError
    from looplab.inspect.landscape import NetworkLandscape, fixed_batch, network_landscape
    from looplab.plots.landscape import (
        RUN_FIGURES,
        interpolation_plot,
        slice_contour,
        slice_surface,
    )
    from looplab.plots.style import save
    from looplab.report.landscape_section import add_landscape_section
    from looplab.run.saved import load_run
    from looplab.watch.interrupt import Interrupted, SignalCatcher
    from looplab.watch.path import PATH_FILE, TrainingPath

    saved = load_run(run)
    if saved.config is None:
        raise RunError(f"{str(run)!r} has no config.toml, so its data cannot be rebuilt; retrain")
    data = load_prepared(saved.config)
    X, y = fixed_batch(data, rows)
    path = TrainingPath.load(saved.path / PATH_FILE) if (saved.path / PATH_FILE).exists() else None
    target = out or saved.path
    target.mkdir(parents=True, exist_ok=True)
    c = saved.config
    what = f"{data.name} {'-'.join(map(str, c.hidden)) or 'linear'} {c.activation}, {c.optimizer}"
    written: list[Path] = []
    line_file, contour_file, surface_file, path_file = (target / n for n in RUN_FIGURES)

    def draw(part: str, land: NetworkLandscape) -> None:  # each figure as soon as it is known
        if part == "slice":
            title = f"{what}: 2-D slice, filter-normalized directions"
            for file, plot in ((contour_file, slice_contour), (surface_file, slice_surface)):
                save(plot(land.slice, title), str(file))
                written.append(file)
        elif part == "line" and land.line is not None and land.alphas is not None:
            title = f"{what}: loss from initial to final weights ({len(X)} rows)"
            save(interpolation_plot(land.alphas.numpy(), land.line.numpy(), title), str(line_file))
            written.append(line_file)
        elif part == "plane" and land.plane is not None:
            title = f"{what}: the plane of the training path (PCA)"
            save(slice_contour(land.plane, title), str(path_file))
            written.append(path_file)

    lazy = LazyProgress("evaluating the grid")
    with SignalCatcher() as signals:

        def progress(done: int, total: int) -> None:  # a grid row at a time: stops promptly
            if signals.signum is not None:
                raise Interrupted(signals.signum)
            lazy(done, total)

        try:
            land = network_landscape(
                saved.model, X, y, saved.task, path, resolution=resolution, span=span,
                seed=seed, include_bias_norm=include_bias_norm, on_progress=progress,
                on_part=draw,
            )  # fmt: skip
        except Interrupted as exc:
            if lazy.progress is not None:
                lazy.progress.stop()
            kept = ", ".join(f.name for f in written) or "nothing yet"
            err_console.print(
                f"interrupted ({exc}): finished figures are kept in {target} ({kept}); "
                "run the command again for the rest",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(exc.exit_code) from None
    if land.line is None:
        err_console.print(
            f"[yellow]note:[/] {run} has no {PATH_FILE} (initial weights and path); "
            "retrain it to get the 1-D line and the projected path"
        )
    s = land.slice
    console.print(
        f"loss at the trained weights: {s.center_loss:.4g} "
        f"(slice min {float(s.loss.min()):.4g}, max {float(s.loss.max()):.4g}, "
        f"{resolution}x{resolution} grid on {len(X)} rows)"
    )
    for file in written:
        console.print(f"wrote [bold]{file}[/]")
    if target == saved.path and add_landscape_section(saved.path):
        console.print(f"added them to [bold]{saved.path / 'report.html'}[/]")
