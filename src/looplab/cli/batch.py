"""``looplab batch``: one mini-batch as training draws it, as a PNG: a grid of its images with
their labels, or its rows highlighted on the training data (lesson 2.5)."""

from __future__ import annotations

from pathlib import Path

import typer

from looplab.cli import app
from looplab.cli.options import config_options
from looplab.cli.output import console

# Module-level options, not Annotated: config_options re-signs the command (see cli/sweep.py).
INDEX = typer.Option(0, help="which batch of the first epoch to draw (0: the first)")
PNG = typer.Option(None, help="the PNG to write [default: OUT/batch-DATASET-SIZE.png]")


@app.command()
@config_options
def batch(
    index: int = INDEX,
    png: Path | None = PNG,
    config_file: Path | None = None,
    overrides: dict[str, object] | None = None,
) -> None:
    """Draw one mini-batch as training sees it: images with labels, or points on the data."""
    from looplab.cli.options import load_config
    from looplab.data.prepared import load_prepared
    from looplab.files import portable_name
    from looplab.plots.batch import batch_on_points, image_grid
    from looplab.plots.style import save
    from looplab.run.batch_view import draw_batch

    config = load_config(config_file, **dict(overrides or {}))
    data = load_prepared(config)
    view = draw_batch(config, data, index)
    size = len(view.rows)
    where = f"batch {view.index + 1} of {view.batches} of epoch 1"
    title = (f"{data.name}: {where}, {size} of {len(view.all_y)} training rows, "
             f"seed {config.seed}")  # fmt: skip
    if config.augment_shift or config.augment_rotate:
        title += (f"; augmented: shifts up to {config.augment_shift} px, rotations up to "
                  f"{config.augment_rotate:g} degrees")  # fmt: skip
    if data.image_shape:
        labels = [data.class_names[int(k)] for k in view.y]
        fig = image_grid(view.raw, [f"label {k}" for k in labels], title)
    else:
        if view.all_raw.shape[1] > 2:
            title += f" (first two of its {view.all_raw.shape[1]} features)"
        fig = batch_on_points(view.all_raw, view.all_y, view.raw, view.y,
                              data.feature_names, data.class_names, title)  # fmt: skip
    out = png or Path(config.out) / f"batch-{portable_name(data.name)}-{size}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    save(fig, str(out))
    if data.class_names:
        counts = [int((view.y.long() == k).sum()) for k in range(len(data.class_names))]
        shown = ", ".join(f"{n} x {c}" for c, n in zip(data.class_names, counts, strict=True) if n)
        console.print(f"{where}: {shown}")
    console.print(f"wrote [bold]{out}[/]")
