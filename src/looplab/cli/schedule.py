"""``looplab schedule``: draw a learning-rate schedule without training anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from looplab.cli import app
from looplab.cli.output import console, fmt

# Updates drawn per schedule: each is a real optimizer and scheduler step (~30-60 us), so this
# bounds the command to a few seconds whatever --epochs and --steps-per-epoch say.
MAX_UPDATES = 100_000


@app.command()
def schedule(
    name: Annotated[
        str, typer.Argument(help="a schedule, several comma-separated, or 'all'")
    ] = "cosine",
    epochs: Annotated[int, typer.Option(help="epochs of the run")] = 50,
    lr: Annotated[float, typer.Option(help="the base (peak) learning rate")] = 0.1,
    warmup: Annotated[int, typer.Option(help="warm-up epochs (cosine, one_cycle)")] = 0,
    steps_per_epoch: Annotated[int, typer.Option(help="updates per epoch")] = 1,
    impl: Annotated[str, typer.Option(help="torch | scratch")] = "torch",
    out: Annotated[Path, typer.Option(help="directory the PNG is written in")] = Path("runs"),
) -> None:
    """Plot the learning rate of each update of a run (PNG), e.g. `looplab schedule cosine
    --epochs 50 --warmup 5`. Plateau is fed a loss that stops improving after a third of the run."""
    from looplab.config import SCHEDULES, Config
    from looplab.errors import ConfigError, one_of
    from looplab.files import shorten
    from looplab.plots.schedule import schedule_figure
    from looplab.plots.style import save
    from looplab.run.schedules import lr_sequence

    names = list(SCHEDULES) if name == "all" else [n.strip() for n in name.split(",") if n.strip()]
    for n in names:
        if n not in SCHEDULES:
            raise ConfigError(f"unknown schedule {one_of(n, [*SCHEDULES, 'all'])}")
    if steps_per_epoch < 1:
        raise ConfigError(f"steps-per-epoch must be a positive whole number, got {steps_per_epoch}")
    if epochs >= 1 and epochs * steps_per_epoch > MAX_UPDATES:
        raise ConfigError(
            f"{epochs:,} epochs x {steps_per_epoch:,} steps per epoch is "
            f"{epochs * steps_per_epoch:,} updates; the plot draws at most {MAX_UPDATES:,}: "
            "lower --steps-per-epoch or --epochs (the shape of a schedule does not change)"
        )
    flat_from = max(1, epochs // 3)

    def plateau_loss(epoch: int) -> float:
        return 1 / min(epoch, flat_from)  # improves, then stays flat

    # 'all' gives the warm-up to the schedules built on one (and keeps a plain cosine);
    # named schedules all get it, and one without a warm-up says so
    warms = ("warmup_cosine", "one_cycle") if name == "all" else tuple(names)
    curves = {}
    for n in names:
        config = Config(
            schedule=n,
            epochs=epochs,
            lr=lr,
            impl=impl,
            optimizer="sgd",
            warmup=warmup if n in warms else 0,
        )
        config.validate()
        curves[n] = lr_sequence(config, steps_per_epoch, plateau_loss)
    label = names[0] if len(names) == 1 else "schedules"
    title = f"{label}: lr {lr:g}, {epochs} epochs"
    if warmup:
        title += f", warm-up {warmup}"
    if steps_per_epoch > 1:
        title += f", {steps_per_epoch} updates/epoch"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot write to {shorten(str(out))!r} ({exc.strerror}); use --out DIR"
        ) from None
    png = out / f"schedule-{label if len(names) == 1 else '-'.join(names)}.png"
    if name == "all":
        png = out / "schedule-all.png"
    save(schedule_figure(curves, steps_per_epoch, title), str(png))
    for n, lrs in curves.items():
        console.print(
            f"{n}: first {fmt(lrs[0])}, max {fmt(max(lrs))}, min {fmt(min(lrs))}, "
            f"last {fmt(lrs[-1])} over {len(lrs)} updates"
        )
    console.print(f"plot: [bold]{png}[/]")
