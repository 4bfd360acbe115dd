"""Lesson 1.4: the loss landscape: L(w, b) of a line, and slices through a network's."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.inspect.landscape import fixed_batch, linear_landscape, network_landscape
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.landscape import interpolation_plot, linear_contour, slice_contour
from looplab.plots.style import save
from looplab.run.fit import fit
from looplab.watch.path import PathRecorder

# ---------------------------------------------------------------- demos


def the_bowl(fast: bool = False, out: Path = Path("lessons/1.4")) -> DemoResult:
    """L(w, b) of linear regression around its optimum, with the paths of full-batch,
    mini-batch and stochastic descent from one start (each recorded by ``fit`` itself)."""
    epochs = 5 if fast else 20
    config = Config(dataset="linear", model="linear", optimizer="sgd", lr=0.1, epochs=epochs)
    land = linear_landscape(config, ("full", 8, 1), resolution=41 if fast else 101)

    out.mkdir(parents=True, exist_ok=True)
    title = f"linear dataset: L(w, b), plain SGD lr 0.1, {epochs} epochs per path"
    save(linear_contour(land, title), str(out / "bowl.png"))
    result = DemoResult(figures=[out / "bowl.png"])
    result.add("optimum w", land.optimum[0], "the least-squares slope (torch.linalg.lstsq)")
    result.add("optimum b", land.optimum[1], "and intercept: the bottom of the bowl")
    result.add("optimum loss", land.optimum_loss, "the lowest point of L(w, b)")
    for label, path in land.paths.items():
        result.add(
            f"final loss, {label}",
            land.final_loss[label],
            f"where {len(path) - 1} steps of {label} descent ended",
        )
    return result


def a_network_slice(fast: bool = False, out: Path = Path("lessons/1.4")) -> DemoResult:
    """An MLP trained on ``moons``: the loss on the straight line from its initial to its final
    weights, and a 2-D slice along two filter-normalized random directions (Li et al. 2018)."""
    config = Config(dataset="moons", hidden=[16, 16], epochs=8 if fast else 40)
    data = load_prepared(config)
    model = build_model(ModelSpec(data.n_features, data.n_outputs, (16, 16)), seed=config.seed)
    recorder = PathRecorder(every="epoch")  # the weights after every epoch
    fit(model, data, config, callbacks=[recorder])

    X, y = fixed_batch(data)  # every point of the landscape is measured on these rows
    land = network_landscape(
        model, X, y, data.task, recorder.path, resolution=11 if fast else 31, span=1.0
    )
    assert land.alphas is not None and land.line is not None

    out.mkdir(parents=True, exist_ok=True)
    what = f"moons, MLP 16-16 relu, adam, {config.epochs} epochs"
    save(
        interpolation_plot(
            land.alphas.numpy(), land.line.numpy(), f"{what}: initial -> final weights"
        ),
        str(out / "line.png"),
    )
    save(slice_contour(land.slice, f"{what}: 2-D slice"), str(out / "slice.png"))
    result = DemoResult(figures=[out / "line.png", out / "slice.png"])
    at = {a: int((land.alphas - a).abs().argmin()) for a in (0.0, 1.0)}  # grid index of alpha
    result.add(
        "loss at alpha 0", float(land.line[at[0.0]]), "the initial weights' loss on the fixed batch"
    )
    result.add(
        "loss at alpha 1",
        float(land.line[at[1.0]]),
        "the trained weights': the line falls all the way, no wall in between",
    )
    result.add(
        "slice minimum",
        float(land.slice.loss.min()),
        "the lowest loss on the 2-D slice; the trained weights sit at its centre",
    )
    result.add("trained loss", land.slice.center_loss, "the loss at the centre of the slice")
    return result


# ---------------------------------------------------------------- exercise 1.4.1: the grid


def loss_grid(x: Tensor, y: Tensor, ws: Tensor, bs: Tensor) -> Tensor:
    """The MSE of the line y = w x + b for every pair (w, b) of a grid, at once.

    x and y are (N,); ws is (W,) and bs is (B,). Return loss of shape (B, W) with
    loss[i, j] = mean((ws[j] * x + bs[i] - y) ** 2): rows follow b, columns follow w (the
    layout contour plots expect). Broadcasting avoids Python loops.

    >>> x, y = torch.tensor([1.0]), torch.tensor([1.0])
    >>> loss_grid(x, y, ws=torch.tensor([0.0, 1.0]), bs=torch.tensor([0.0]))
    tensor([[1., 0.]])
    """
    pred = ws[None, :, None] * x[None, None, :] + bs[:, None, None]  # (B, W, N)
    return ((pred - y) ** 2).mean(dim=-1)


def _grid_cases() -> list[Case]:
    def make(n: int, w: int, b: int, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            x = torch.randn(n, generator=g)
            y = 3 * x + 1 + 0.2 * torch.randn(n, generator=g)
            return x, y, torch.linspace(0, 6, w), torch.linspace(-2, 4, b)

        return Case(f"N={n}, {w} slopes x {b} intercepts", args)

    return [make(20, 7, 5, 0), make(50, 6, 6, 1), make(3, 1, 4, 2)]


def _loop_grid(x: Tensor, y: Tensor, ws: Tensor, bs: Tensor, reduction: str = "mean") -> Outputs:
    """One F.mse_loss per grid point, in a plain double loop."""
    loss = torch.empty(len(bs), len(ws))
    for i, b in enumerate(bs):
        for j, w in enumerate(ws):
            loss[i, j] = F.mse_loss(w * x + b, y, reduction=reduction)
    return {"result": loss}


LOSS_GRID = Exercise(
    id="1.4.1",
    title="a loss-landscape grid",
    solution=loss_grid,
    cases=_grid_cases,
    oracle=_loop_grid,
    oracle_name="F.mse_loss at each (w, b), one grid point at a time",
    hints=(
        "give ws, bs and x their own axes so broadcasting builds a (B, W, N) array of predictions",
        "pred = ws[None, :, None] * x[None, None, :] + bs[:, None, None]; "
        "then the mean over the last axis",
    ),
    mistakes=(
        Mistake(
            "transposed",
            "rows follow b and columns follow w: loss[i, j] = L(ws[j], bs[i]); yours is the "
            "other way round (shape (W, B) instead of (B, W))",
            lambda x, y, ws, bs: {"result": _loop_grid(x, y, ws, bs)["result"].T},
        ),
        Mistake(
            "sum instead of mean",
            "average over the N points (mean over the last axis), do not add them up",
            lambda x, y, ws, bs: _loop_grid(x, y, ws, bs, reduction="sum"),
        ),
    ),
)

LESSON = Lesson(
    id="1.4",
    title="The loss landscape",
    minutes=20,
    eli5=(
        "Picture every possible setting of the knobs as a place on a map, and the loss as the "
        "height of the ground there. Training is walking downhill. For a line (two knobs) we "
        "can draw the whole map: a smooth bowl. A network has thousands of knobs, so we can "
        "only look along a line or across a flat slice through the map, like a geologist's "
        "core sample, and the slice needs care so that big and small weights look alike."
    ),
    equations=(
        r"L(w, b) = \frac{1}{N} \sum_i (w x_i + b - y_i)^2 \quad \text{(a quadratic bowl)}",
        r"L\big((1 - \alpha)\, \theta_0 + \alpha\, \theta^*\big), "
        r"\qquad \alpha \in [-0.5, 1.5]",
        r"L(\theta^* + \alpha \delta + \beta \eta), \qquad "
        r"\delta_{k} \leftarrow \frac{\delta_{k}}{\lVert \delta_{k} \rVert} "
        r"\lVert \theta^*_{k} \rVert "
        r"\ \text{for each filter (row) } k",
    ),
    look_at=(
        "bowl.png: the full-batch path is smooth and goes straight down the bowl; "
        "mini-batch and stochastic paths zig-zag around it, and all reach the bottom",
        "line.png: from the initial to the trained weights the loss falls without a wall, "
        "then rises again past alpha 1",
        "slice.png: the trained weights sit in a basin; the filter normalization makes the "
        "slice's scale match the weights'",
    ),
    demos=(
        Demo("the bowl of linear regression", the_bowl, ("bowl.png",)),
        Demo("a slice through a network's landscape", a_network_slice, ("line.png", "slice.png")),
    ),
    exercises=(LOSS_GRID,),
)
