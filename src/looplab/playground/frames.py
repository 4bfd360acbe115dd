r"""What the page draws, computed from the model as it stands: one *frame*.

A frame holds the output over the plane (a 100 x 100 grid, the decision boundary or the
regression surface), every neuron's output over a 25 x 25 grid, every weight and bias, the
losses of the whole training and test sets (the task's loss without the penalty, in eval mode:
TensorFlow Playground's numbers), the last step's gradient norm of each layer, and the run's
notes. Grids travel as bytes (0..255) in base64, weights as float32: a default frame is ~15 kB.
Computing one changes nothing in the run: no gradient, no random draw, no running statistic.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from looplab.models.losses import TaskLoss
from looplab.models.mlp import MLP
from looplab.playground.catalogue import PlaneData
from looplab.playground.datasets import input_features
from looplab.playground.network import block_outputs

GRID = 100  # cells a side of the output grid
STRIDE = 4  # neuron heatmaps: every 4th cell, 25 x 25
PLANE = 6.0  # the plane is [-6, 6]^2


def grid_points(cells: int = GRID) -> np.ndarray:
    """Centres of a cells x cells grid over the plane, row by row from the top (x2 = +6) down:
    (cells^2, 2), as the page paints them."""
    centres = -PLANE + (np.arange(cells) + 0.5) * (2 * PLANE / cells)
    x1, x2 = np.meshgrid(centres, centres[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1)


def b64(values: np.ndarray) -> str:
    """Bytes of an array, as base64 text."""
    return base64.b64encode(np.ascontiguousarray(values).tobytes()).decode("ascii")


def to_bytes(values: Tensor) -> np.ndarray:
    """Values in [-1, 1] -> uint8 0..255 (NaN -> 127, the middle)."""
    v = torch.nan_to_num(values.clamp(-1, 1), nan=0.0)
    return ((v + 1) * 127.5).round().to(torch.uint8).numpy()


class FrameMaker:
    """Computes frames for one run's data and features; the grid's features are made once."""

    def __init__(self, data: PlaneData, features: list[str]) -> None:
        self.data = data
        self.grid = torch.tensor(input_features(grid_points(), features), dtype=torch.float32)
        rows = np.arange(GRID * GRID).reshape(GRID, GRID)[
            STRIDE // 2 :: STRIDE, STRIDE // 2 :: STRIDE
        ]
        self.sub = torch.from_numpy(rows.ravel())  # the neuron grid's cells in the output grid
        self.loss = TaskLoss(data.task)

    @torch.no_grad()
    def surfaces(self, model: MLP) -> dict[str, Any]:
        """The output grid and every neuron's heatmap, in eval mode."""
        was_training = model.training
        model.eval()
        try:
            outputs = block_outputs(model, self.grid)  # per block: (GRID^2, width)
        finally:
            model.train(was_training)
        logits = outputs[-1]
        task = self.data.task
        out: dict[str, Any] = {"cells": GRID, "sub": GRID // STRIDE}
        if task == "binary":
            out["output"] = b64(to_bytes(2 * torch.sigmoid(logits[:, 0]) - 1))
        elif task == "regression":
            out["output"] = b64(to_bytes(logits[:, 0] / self.data.value_scale))
        else:
            probs = torch.softmax(logits, dim=1)
            top, label = probs.max(dim=1)
            out["output"] = b64(to_bytes(2 * top - 1))
            out["label"] = b64(label.to(torch.uint8).numpy())
        neurons = []
        for layer in outputs:
            h = layer[self.sub]  # (sub^2, width)
            scale = h.abs().amax(dim=0).clamp_min(1.0)  # (width,): values beyond +-1 scaled in
            neurons.append([b64(to_bytes(h[:, j] / scale[j])) for j in range(h.shape[1])])
        out["neurons"] = neurons
        return out

    @torch.no_grad()
    def scores(self, model: nn.Module) -> dict[str, float]:
        """Loss (the task's, no penalty) and accuracy or R^2 of the whole train and test sets."""
        was_training = model.training
        model.eval()
        try:
            out = {}
            for part, X, y in (
                ("train", self.data.X_train, self.data.y_train),
                ("test", self.data.X_test, self.data.y_test),
            ):
                logits = model(X)
                out[f"{part}_loss"] = float(self.loss(logits, y))
                out[f"{part}_{metric_name(self.data.task)}"] = metric(logits, y, self.data.task)
            return out
        finally:
            model.train(was_training)


def metric_name(task: str) -> str:
    return "r2" if task == "regression" else "accuracy"


def metric(logits: Tensor, y: Tensor, task: str) -> float:
    """Accuracy, or $R^2 = 1 - \\mathrm{SSE}/\\mathrm{SST}$ for regression."""
    if task == "regression":
        pred = logits[:, 0].double()
        sst = float(((y.double() - y.double().mean()) ** 2).sum())
        sse = float(((pred - y.double()) ** 2).sum())
        return 1 - sse / sst if sst > 0 else math.nan
    predicted = (logits[:, 0] > 0).to(y.dtype) if task == "binary" else logits.argmax(dim=1)
    return float((predicted == y).double().mean())


def weights(model: MLP) -> list[dict[str, Any]]:
    """Each linear layer's weight (out, in) and bias, as float32 base64, with its shape."""
    layers = []
    for i in range(1, len(model.blocks) + 1):
        fc = model.linear(i)
        w = fc.weight.detach().to(torch.float32).numpy()
        b = fc.bias.detach().to(torch.float32).numpy()
        layers.append({"shape": list(w.shape), "w": b64(w), "b": b64(b)})
    return layers


def gradient_norms(model: MLP) -> list[float]:
    r"""$\lVert (\nabla W, \nabla b) \rVert$ of each linear layer from the last backward pass
    (0 before the first)."""
    norms = []
    for i in range(1, len(model.blocks) + 1):
        fc = model.linear(i)
        total = 0.0
        for p in (fc.weight, fc.bias):
            if p.grad is not None:
                total += float((p.grad.double() ** 2).sum())
        norms.append(math.sqrt(total))
    return norms


def finite(value: float) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return value if math.isfinite(value) else None


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float (a diverged run has them) made null."""
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
