"""``looplab datasets`` and ``looplab summary``: what there is, and what shape everything has."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from looplab.cli import app
from looplab.cli.collector import collector_paused
from looplab.cli.output import console


@app.command()
def datasets() -> None:
    """List the built-in datasets: name, task, rows, features."""
    from looplab.data.registry import DATASETS

    table = Table(title="built-in datasets (and csv:PATH --target COLUMN for your own)")
    for column in ("name", "task", "rows", "features", "classes", "description"):
        table.add_column(
            column, justify="right" if column in ("rows", "features", "classes") else "left"
        )
    for name, info in DATASETS.items():  # shapes from the table: nothing is loaded
        classes = str(info.classes) if info.classes else "-"
        table.add_row(
            name, info.task, str(info.rows), str(info.features), classes, info.description
        )
    console.print(table)


@app.command()
@collector_paused
def summary(
    run: Annotated[
        Path | None, typer.Argument(help="a saved run directory (instead of a spec)")
    ] = None,
    in_features: Annotated[
        str | None, typer.Option("--in", help="input features (784), or an image CxHxW (1x28x28)")
    ] = None,
    model_name: Annotated[
        str, typer.Option("--model", help="mlp | cnn (LeNet-sized; needs --in CxHxW)")
    ] = "mlp",
    hidden: Annotated[str, typer.Option(help="hidden widths, e.g. 10,6 (empty: linear)")] = "",
    out_features: Annotated[
        int | None, typer.Option("--out", help="outputs (classes, or 1)")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="batch size of the forward pass")] = 4,
    activation: Annotated[str, typer.Option(help="activation between layers")] = "relu",
) -> None:
    """The layer table: input, weight and output shapes, parameters and activations."""
    from looplab.config import ACTIVATIONS, coerce
    from looplab.errors import ConfigError, one_of
    from looplab.inspect.summary import HEADER, format_bytes, summarize, table_rows
    from looplab.models.cnn import CHANNELS, build_network, cnn_spec
    from looplab.models.mlp import ModelSpec, parameter_count
    from looplab.resources import check_memory
    from looplab.run.saved import load_run

    if run is not None:
        saved = load_run(run)
        model, spec = saved.model, saved.spec
    else:
        if in_features is None or out_features is None:
            raise ConfigError(
                "summary needs a run directory, or --in N and --out N (and --hidden W,W)"
            )
        if activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {one_of(activation, ACTIVATIONS)}")
        if model_name not in ("mlp", "cnn"):
            raise ConfigError(f"unknown --model {one_of(model_name, ['mlp', 'cnn'])}")
        shape = input_shape(in_features)
        for name, value in (("--out", out_features), ("--batch-size", batch_size)):
            if value < 1:
                raise ConfigError(f"{name} must be a positive whole number, got {value}")
        if model_name == "cnn":
            if len(shape) != 3:
                raise ConfigError(
                    f"--model cnn needs an image shape --in CxHxW (e.g. 1x28x28), got {in_features}"
                )
            spec = cnn_spec(shape, out_features, activation)
        else:
            widths = tuple(coerce("hidden", hidden)) if hidden else ()
            if any(w < 1 for w in widths):
                raise ConfigError(f"hidden widths must be positive whole numbers, got {hidden!r}")
            spec = ModelSpec(math.prod(shape), out_features, widths, activation,
                             input_shape=shape if len(shape) == 3 else ())  # fmt: skip
            check_memory(
                f"a model of {parameter_count(spec):,} parameters",
                parameter_count(spec) * 8,
                "use smaller --hidden, --in or --out",
            )
        model = build_network(spec, seed=0)
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive whole number, got {batch_size}")
    units = spec.in_features + sum(spec.hidden) * 3 + spec.out_features  # every layer's output
    if spec.kind == "cnn":  # each convolution's maps, at most as many pixels as the image
        units += spec.in_features * 3 * sum(CHANNELS)
    check_memory(
        f"a forward pass of {batch_size:,} rows",
        batch_size * units * 8,
        "use a smaller --batch-size",
    )
    s = summarize(model, spec.input_shape or spec.in_features, batch_size)
    table = Table(title=f"layers for a batch of {batch_size} (the batch is the first dimension)")
    for column in HEADER:
        table.add_column(column, justify="right" if column == "Params" else "left")
    for row in table_rows(s):
        table.add_row(*row)
    table.add_section()
    table.add_row("total", "", "", "", f"{s.total_params:,}", "")
    console.print(table)
    console.print(
        f"parameters: {s.total_params:,} ({format_bytes(s.param_bytes)}); "
        f"activations of one forward pass: {format_bytes(s.activation_bytes)}"
    )


def input_shape(text: str) -> tuple[int, ...]:
    """``--in``: a number of features (``784``) or an image shape ``CxHxW`` (``1x28x28``)."""
    from looplab.errors import ConfigError

    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise ConfigError(
            f"--in must be a positive whole number of features (e.g. 5) or an image shape "
            f"CxHxW (e.g. 1x28x28), got {text!r}"
        )
    return shape
