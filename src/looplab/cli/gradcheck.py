"""``looplab gradcheck``: check the hand-written backward of the manual MLP against finite
differences, and print one row per parameter."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from looplab.cli import app
from looplab.cli.output import console


@app.command()
def gradcheck(
    hidden: Annotated[str, typer.Option(help="hidden layer widths, e.g. 8 or 8,8")] = "8",
    activation: Annotated[
        str, typer.Option(help="relu | tanh | sigmoid | leaky_relu | identity")
    ] = "tanh",
    loss: Annotated[str, typer.Option(help="mse | bce | ce (cross-entropy)")] = "ce",
    inputs: Annotated[int, typer.Option(help="input features")] = 4,
    classes: Annotated[int, typer.Option(help="classes of the ce loss")] = 3,
    batch: Annotated[int, typer.Option(help="rows of the random batch")] = 8,
    seed: Annotated[int, typer.Option(help="seed of the weights and the batch")] = 0,
    eps: Annotated[float, typer.Option(help="finite-difference step")] = 1e-6,
    tol: Annotated[float, typer.Option(help="largest relative error that passes")] = 1e-5,
) -> None:
    """Compare the manual MLP's gradients with central differences in float64, e.g.
    `looplab gradcheck --hidden 8 --activation tanh --loss ce`. Exit 1 when a check fails."""
    from rich.table import Table

    from looplab.config import SEED_MAX, coerce
    from looplab.errors import ConfigError
    from looplab.inspect.gradcheck import check_manual_mlp

    widths = tuple(coerce("hidden", hidden))
    if any(w < 1 for w in widths):
        raise ConfigError(f"hidden widths must be positive whole numbers, got {hidden!r}")
    if not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"--seed must be a whole number from 0 to {SEED_MAX}, got {seed}")
    for name, value in (("inputs", inputs), ("classes", classes), ("batch", batch)):
        if value < 1 or (name == "classes" and value < 2):
            least = 2 if name == "classes" else 1
            raise ConfigError(f"--{name} must be a whole number >= {least}, got {value}")
    result = check_manual_mlp(
        widths,
        activation,
        loss,
        in_features=inputs,
        classes=classes,
        batch=batch,
        seed=seed,
        eps=eps,
        tol=tol,
    )
    layers = "-".join(str(w) for w in (inputs, *widths, classes if loss == "ce" else 1))
    table = Table(
        title=f"gradient check: manual MLP {layers} ({activation}), {loss} loss, batch {batch}, "
        f"eps {eps:g}, tol {tol:g}"
    )
    for column in ("parameter", "shape", "max abs error", "max rel error", "result"):
        table.add_column(column, justify="left" if column in ("parameter", "shape") else "right")
    for row in result.rows:
        verdict = "[green]pass[/]" if row.passed else "[bold red]FAIL[/]"
        shape = "x".join(str(s) for s in row.shape)
        errors = f"{row.max_abs_error:.3g}", f"{row.max_rel_error:.3g}"
        table.add_row(row.name, shape, *errors, verdict)
    console.print(table)
    if result.inconclusive():  # the settings, not the backward: a user's mistake (exit 2)
        raise ConfigError(result.failure("--"))
    if not result.passed:
        sys.stderr.write(f"{result.failure()}\n")
        raise typer.Exit(1)
    console.print(f"all {len(result.rows)} parameters pass")
