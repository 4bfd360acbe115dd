"""The course's layer table, measured by forward hooks on a real forward pass.

For each layer with weights: the shape of what goes in, of the weight matrix, of what comes out,
its parameter count, and the activation that follows it. The batch is the first dimension of
every input and output and never of a weight: the same weights serve every example.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from looplab.models.mlp import ACTIVATION_LAYERS

_ACTIVATION_NAMES = {cls: name for name, cls in ACTIVATION_LAYERS.items()}


@dataclass(frozen=True)
class LayerRow:
    """One row of the table."""

    name: str
    kind: str
    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...]
    params: int
    activation: str  # what follows the layer: "relu", "relu, dropout(0.2)", or "-"


@dataclass(frozen=True)
class Summary:
    """The rows and the totals of a model's layer table for one batch size."""

    rows: list[LayerRow]
    total_params: int
    param_bytes: int
    activation_bytes: int  # every layer output of one forward pass (kept for backward)
    batch_size: int


def summarize(model: nn.Module, in_shape: int | tuple[int, ...], batch_size: int) -> Summary:
    """Run one forward pass of a ``(batch_size, in_features)`` input (or of images
    ``(batch_size, C, H, W)`` for ``in_shape`` (C, H, W)) and record each layer."""
    shape = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    seen: dict[str, tuple[tuple[int, ...], tuple[int, ...], int]] = {}

    def hook(name: str) -> object:
        def record(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            seen[name] = (
                tuple(inputs[0].shape),
                tuple(output.shape),
                output.numel() * output.element_size(),
            )

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in leaves]
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        x = torch.zeros(batch_size, *shape, device=param.device if param is not None else None)
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    rows: list[LayerRow] = []
    for name, module in leaves:
        if name not in seen:
            continue
        in_shape, out_shape, _ = seen[name]
        own = list(module.parameters(recurse=False))
        if own:
            weight = getattr(module, "weight", None)
            rows.append(
                LayerRow(
                    name=name,
                    kind=type(module).__name__,
                    input_shape=in_shape,
                    weight_shape=tuple(weight.shape) if isinstance(weight, Tensor) else None,
                    output_shape=out_shape,
                    params=sum(p.numel() for p in own),
                    activation="-",
                )
            )
        elif rows:  # an activation or dropout: note it on the layer it follows
            label = _ACTIVATION_NAMES.get(type(module), type(module).__name__.lower())
            if isinstance(module, nn.Dropout):
                label = f"dropout({module.p:g})"
            elif isinstance(module, nn.MaxPool2d):
                label = f"maxpool({module.kernel_size})"
            last = rows[-1]
            joined = label if last.activation == "-" else f"{last.activation}, {label}"
            rows[-1] = LayerRow(**{**last.__dict__, "activation": joined})
    params = list(model.parameters())
    return Summary(
        rows=rows,
        total_params=sum(p.numel() for p in params),
        param_bytes=sum(p.numel() * p.element_size() for p in params),
        activation_bytes=sum(size for _, _, size in seen.values()),
        batch_size=batch_size,
    )


HEADER = ["Layer", "Input shape", "Weight shape", "Output shape", "Params", "Activation"]


def table_rows(summary: Summary) -> list[list[str]]:
    """The rows of the layer table as text, in :data:`HEADER`'s order (terminal and report)."""
    return [
        [
            r.name,
            format_shape(r.input_shape),
            format_shape(r.weight_shape),
            format_shape(r.output_shape),
            f"{r.params:,}",
            r.activation,
        ]
        for r in summary.rows
    ]


def format_shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else "(" + ", ".join(str(s) for s in shape) + ")"


def format_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")
