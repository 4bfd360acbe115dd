r"""Loss landscapes: the loss as a function of the weights, seen along one or two directions.

Two views of the course (lesson 1.4):

- **Linear regression** $\hat y = w x + b$: the whole landscape is a 2-D bowl
  $L(w, b) = \frac{1}{n}\sum_i (w x_i + b - y_i)^2$; we draw it around the closed-form
  optimum (``torch.linalg.lstsq``) with the paths of full-batch, mini-batch and stochastic
  descent, each recorded by ``fit`` itself (a :class:`~looplab.watch.path.PathRecorder`).
- **Any network**: a 1-D line from the initial to the final weights,
  $L((1-\alpha)\theta_0 + \alpha\theta^*)$, and a 2-D slice
  $L(\theta^* + \alpha\delta + \beta\eta)$ along two random Gaussian directions normalized
  filter by filter (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets"): each row
  of a weight matrix is rescaled to the norm of the same row of $\theta^*$, so the picture does
  not depend on the scale of the weights; bias and normalization parameters (every 1-D
  parameter) get a zero direction by default. Every loss is evaluated on one fixed batch.
  A saved training path is projected onto that plane; since random directions are nearly
  orthogonal to it, the path is also drawn in its own plane, spanned by its two principal
  directions (Li et al., section 7).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.nn.utils import vector_to_parameters

from looplab.config import Config
from looplab.data.prepared import PreparedData, load_prepared
from looplab.data.split import Split
from looplab.errors import ConfigError, DataError
from looplab.models.losses import TaskLoss
from looplab.models.mlp import ModelSpec, build_model
from looplab.run.fit import fit
from looplab.run.threads import torch_threads
from looplab.watch.path import PathRecorder, TrainingPath, flat_parameters

Progress = Callable[[int, int], None]  # (done, total): (0, total) first, then after each row


def _no_progress(done: int, total: int) -> None:
    pass


# ---------------------------------------------------------------- linear regression: L(w, b)


@dataclass
class LinearLandscape:
    """``loss[i, j]`` is $L(w_j, b_i)$ on the training data; ``paths`` maps a label such as
    ``"batch 8"`` to the (steps + 1, 2) sequence of (w, b) that descent visited."""

    w: Tensor  # (R,)
    b: Tensor  # (R,)
    loss: Tensor  # (R, R), rows follow b, columns follow w
    optimum: tuple[float, float]
    optimum_loss: float
    start: tuple[float, float]
    paths: dict[str, Tensor] = field(default_factory=dict)
    final_loss: dict[str, float] = field(default_factory=dict)  # NaN or huge: it diverged
    config: Config | None = None


def linear_optimum(x: Tensor, y: Tensor) -> tuple[float, float]:
    """The least-squares $(w, b)$ of $y \approx w x + b$ in closed form; ``x`` is (n,) or (n, 1)."""
    x = x.reshape(-1).double()
    A = torch.stack([x, torch.ones_like(x)], dim=1)  # (n, 2): the design matrix [x, 1]
    solution = torch.linalg.lstsq(A, y.double().reshape(-1, 1)).solution  # (2, 1)
    return float(solution[0, 0]), float(solution[1, 0])


def linear_loss_grid(x: Tensor, y: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """Mean squared error of every $(w_j, b_i)$ at once: (len(b), len(w))."""
    x, y = x.reshape(-1).double(), y.reshape(-1).double()
    pred = w.double()[None, :, None] * x[None, None, :] + b.double()[:, None, None]  # (B, W, n)
    return ((pred - y) ** 2).mean(dim=-1)


def _check_linear(data: PreparedData) -> Split:
    if data.task != "regression" or data.n_features != 1 or not isinstance(data.train, Split):
        raise DataError(
            f"the (w, b) landscape needs regression on one feature, but {data.name!r} is a "
            f"{data.task} task with {data.n_features} features; use --dataset linear"
        )
    return data.train


def batch_label(batch_size: int | str, rows: int) -> str:
    """``full batch (160)``, ``stochastic (1)`` or ``mini-batch (8)``."""
    if batch_size == "full" or (isinstance(batch_size, int) and batch_size >= rows):
        return f"full batch ({rows})"
    return "stochastic (1)" if batch_size == 1 else f"mini-batch ({batch_size})"


def descent_path(config: Config, data: PreparedData, start: tuple[float, float]) -> Tensor:
    """Train linear regression from ``start`` = (w, b) with plain SGD as ``config`` says and
    return the (steps + 1, 2) path of (w, b), recorded after each step by ``fit``."""
    config = config.replace(model="linear", optimizer="sgd", weight_decay=0.0, patience=0)
    spec = ModelSpec(in_features=1, out_features=1)
    model = build_model(spec, seed=config.seed)
    weight, bias = model.parameters()  # fc1.weight (1, 1) and fc1.bias (1,)
    with torch.no_grad():
        weight.fill_(start[0])
        bias.fill_(start[1])
    recorder = PathRecorder(every="step")
    fit(model, data, config, callbacks=[recorder])
    return recorder.path.points.double()  # (steps + 1, 2): the parameters are [w, b]


def linear_landscape(
    config: Config,
    batch_sizes: Sequence[int | str] = ("full", 8, 1),
    start: tuple[float, float] | None = None,
    resolution: int = 101,
) -> LinearLandscape:
    """The (w, b) bowl of ``config``'s one-feature regression data with one descent path per
    batch size, all from the same ``start`` (default: 3 below the optimal w, 2 above the
    optimal b), the same learning rate and the same number of epochs."""
    data = load_prepared(config)
    train = _check_linear(data)
    w_opt, b_opt = linear_optimum(train.X, train.y)
    if start is None:
        start = (round(w_opt - 3.0, 1), round(b_opt + 2.0, 1))
    paths = {
        batch_label(bs, len(train)): descent_path(config.replace(batch_size=bs), data, start)
        for bs in batch_sizes
    }
    # a grid around the optimum that holds the start and every finite step, but no more than
    # 3x the start's distance: a diverging path leaves the picture instead of flattening it
    optimum = torch.tensor([w_opt, b_opt]).double()
    visited = torch.cat([torch.tensor([start]).double(), *paths.values()])
    visited = visited[torch.isfinite(visited).all(dim=1)]
    reach = (torch.tensor(start).double() - optimum).abs()
    radius = (visited - optimum).abs().max(dim=0).values
    radius = torch.minimum(radius * 1.15, 3 * reach).clamp(min=0.5)
    w = torch.linspace(w_opt - radius[0].item(), w_opt + radius[0].item(), resolution).double()
    b = torch.linspace(b_opt - radius[1].item(), b_opt + radius[1].item(), resolution).double()
    x, y = train.X[:, 0], train.y
    optimum_loss = float(linear_loss_grid(x, y, torch.tensor([w_opt]), torch.tensor([b_opt]))[0, 0])
    final_loss = {
        label: float(linear_loss_grid(x, y, path[-1:, 0], path[-1:, 1])[0, 0])
        for label, path in paths.items()
    }
    return LinearLandscape(
        w,
        b,
        linear_loss_grid(x, y, w, b),
        (w_opt, b_opt),
        optimum_loss,
        start,
        paths,
        final_loss,
        config,
    )


# ---------------------------------------------------------------- any network: 1-D and 2-D


def fixed_batch(data: PreparedData, rows: int = 1024) -> tuple[Tensor, Tensor]:
    """The first ``rows`` training examples (the split is already shuffled): every point of a
    landscape is evaluated on this same batch, so differences are the weights' alone."""
    if not isinstance(data.train, Split):
        raise DataError("loss landscapes need in-memory data; use a built-in or CSV dataset")
    return data.train.X[:rows], data.train.y[:rows]


class LossAt:
    """$\\theta \\mapsto L(\\theta)$ on a fixed batch: loads a flat parameter vector into a private
    copy of the model (eval mode: dropout off, batch norm on its running statistics)."""

    def __init__(self, model: nn.Module, X: Tensor, y: Tensor, task: str) -> None:
        self.model = copy.deepcopy(model).cpu().eval()
        self.X, self.y = X.cpu(), y.cpu()
        self.loss_fn = TaskLoss(task)

    @torch.no_grad()
    def __call__(self, theta: Tensor) -> float:
        vector_to_parameters(theta, self.model.parameters())
        return float(self.loss_fn(self.model(self.X), self.y))


def filter_normalized_direction(
    model: nn.Module, generator: torch.Generator, include_bias_norm: bool = False
) -> Tensor:
    """A Gaussian direction (P,) shaped like the model's parameters, each row of each weight
    matrix scaled to the norm of that row of the weights (Li et al. 2018). 1-D parameters
    (biases, normalization scales and shifts) get zeros, or with ``include_bias_norm`` a copy
    of themselves (the choice of Li et al.'s reference code)."""
    parts = []
    for p in model.parameters():
        w = p.detach().float().cpu()
        if w.ndim < 2:
            parts.append(w.clone() if include_bias_norm else torch.zeros_like(w))
            continue
        d = torch.randn(w.shape, generator=generator)
        rows_w = w.reshape(w.shape[0], -1)  # (out, in): one row per filter / neuron
        rows_d = d.reshape(d.shape[0], -1)
        scale = rows_w.norm(dim=1, keepdim=True) / rows_d.norm(dim=1, keepdim=True).clamp_min(1e-12)
        parts.append((rows_d * scale).reshape(-1))
    return torch.cat([part.reshape(-1) for part in parts])


def interpolate(loss_at: LossAt, start: Tensor, end: Tensor, alphas: Tensor) -> Tensor:
    """$L((1-\\alpha)\\,\\theta_{start} + \\alpha\\,\\theta_{end})$ per alpha: (len(alphas),)."""
    with torch_threads(1):  # thousands of tiny forward passes: 5-25x faster
        return torch.tensor([loss_at(start + a * (end - start)) for a in alphas.tolist()])


@dataclass
class LossSlice:
    """``loss[i, j]`` = $L(\\theta^* + \\alpha_j \\delta + \\beta_i \\eta)$; ``path`` is the
    training path projected onto the plane, (k, 2) in (alpha, beta) units, when known."""

    alphas: Tensor  # (R,)
    betas: Tensor  # (R,)
    loss: Tensor  # (R, R)
    center_loss: float  # the trained model's own loss on the fixed batch
    d1: Tensor  # (P,)
    d2: Tensor  # (P,)
    path: Tensor | None = None  # (k, 2)
    path_epochs: list[int] = field(default_factory=list)
    kind: str = "random"  # "random": filter-normalized directions; "pca": the path's plane
    explained: tuple[float, float] | None = None  # "pca": share of the path each axis holds


def loss_slice(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    task: str,
    *,
    resolution: int = 41,
    span: float = 1.0,
    seed: int = 0,
    include_bias_norm: bool = False,
    on_progress: Progress = _no_progress,
) -> LossSlice:
    """The 2-D slice through the trained weights along two filter-normalized random directions,
    on a ``resolution`` x ``resolution`` grid over $[-span, span]^2$."""
    if resolution < 3:
        raise ConfigError(f"resolution must be at least 3, got {resolution}")
    center = flat_parameters(model)
    generator = torch.Generator().manual_seed(seed)
    d1 = filter_normalized_direction(model, generator, include_bias_norm)
    d2 = filter_normalized_direction(model, generator, include_bias_norm)
    loss_at = LossAt(model, X, y, task)
    alphas = torch.linspace(-span, span, resolution)
    betas = torch.linspace(-span, span, resolution)
    loss = _grid(loss_at, center, d1, d2, alphas, betas, on_progress)
    return LossSlice(alphas, betas, loss, loss_at(center), d1, d2)


def _grid(
    loss_at: LossAt,
    center: Tensor,
    d1: Tensor,
    d2: Tensor,
    alphas: Tensor,
    betas: Tensor,
    on_progress: Progress,
) -> Tensor:
    """``loss[i, j]`` = L(center + alphas[j] d1 + betas[i] d2), one grid row at a time."""
    loss = torch.empty(len(betas), len(alphas))
    on_progress(0, len(betas))
    with torch_threads(1):  # thousands of tiny forward passes: 5-25x faster
        for i, beta in enumerate(betas.tolist()):
            for j, alpha in enumerate(alphas.tolist()):
                loss[i, j] = loss_at(center + alpha * d1 + beta * d2)
            on_progress(i + 1, len(betas))
    return loss


def pca_directions(points: Tensor, center: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The two unit directions along which a path (k, P) varies most around ``center`` (the
    top right-singular vectors of the offsets), and the share of the offsets' squared length
    each one explains."""
    offsets = points.double() - center.double()  # (k, P)
    _, S, Vh = torch.linalg.svd(offsets, full_matrices=False)
    if Vh.shape[0] < 2:  # a path of one snapshot: no plane to speak of
        raise DataError("the saved path has a single snapshot; train for at least one epoch")
    explained = S**2 / (S**2).sum().clamp_min(1e-30)
    return Vh[0].float(), Vh[1].float(), explained[:2].float()


def path_plane(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    task: str,
    path: TrainingPath,
    *,
    resolution: int = 41,
    margin: float = 0.25,
    on_progress: Progress = _no_progress,
) -> LossSlice:
    """The slice through the trained weights spanned by the path's two principal directions
    (Li et al. 2018, section 7): random directions in a space of many dimensions are nearly
    orthogonal to the path, this plane holds as much of it as a plane can. The grid covers the
    path with a ``margin`` on each side."""
    if resolution < 3:
        raise ConfigError(f"resolution must be at least 3, got {resolution}")
    center = flat_parameters(model)
    d1, d2, explained = pca_directions(path.points, center)
    coords = project_path(path.points, center, d1, d2)  # exact: d1, d2 are orthonormal
    axes = []
    for k in range(2):
        low, high = float(coords[:, k].min()), float(coords[:, k].max())
        low, high = min(low, 0.0), max(high, 0.0)
        pad = margin * max(high - low, 1e-3)
        axes.append(torch.linspace(low - pad, high + pad, resolution))
    loss_at = LossAt(model, X, y, task)
    loss = _grid(loss_at, center, d1, d2, axes[0], axes[1], on_progress)
    return LossSlice(
        axes[0],
        axes[1],
        loss,
        loss_at(center),
        d1,
        d2,
        coords,
        list(path.epochs),
        kind="pca",
        explained=(float(explained[0]), float(explained[1])),
    )


def project_path(points: Tensor, center: Tensor, d1: Tensor, d2: Tensor) -> Tensor:
    """Coordinates (k, 2) of each point of a path in the plane ``center + a d1 + b d2``: the
    least-squares fit of ``point - center`` by the two directions."""
    D = torch.stack([d1, d2], dim=1).double()  # (P, 2)
    offsets = (points.double() - center.double()).T  # (P, k)
    coords: Tensor = torch.linalg.lstsq(D, offsets).solution.T.float()  # (k, 2)
    return coords


@dataclass
class NetworkLandscape:
    """Both views of a trained network: the 1-D line (when the initial weights are known) and
    the 2-D slice with the projected path (when the run saved its path)."""

    slice: LossSlice
    alphas: Tensor | None = None  # (A,)
    line: Tensor | None = None  # (A,) loss along the line from the initial to the final weights
    plane: LossSlice | None = None  # the slice in the plane of the path's principal directions


def network_landscape(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    task: str,
    path: TrainingPath | None = None,
    *,
    resolution: int = 41,
    span: float = 1.0,
    seed: int = 0,
    include_bias_norm: bool = False,
    on_progress: Progress = _no_progress,
    on_part: Callable[[str, NetworkLandscape], None] = lambda part, land: None,
) -> NetworkLandscape:
    """The 2-D slice around ``model``'s weights and, given the run's ``path`` (its first point
    is the initial weights), the 1-D interpolation from -0.5 to 1.5 and the projected path.
    ``on_part`` hears each part as it is done (``"slice"``, ``"line"``, ``"plane"``), so an
    interrupted command still has the parts it finished."""
    s = loss_slice(
        model,
        X,
        y,
        task,
        resolution=resolution,
        span=span,
        seed=seed,
        include_bias_norm=include_bias_norm,
        on_progress=on_progress,
    )
    land = NetworkLandscape(s)
    if path is None:
        on_part("slice", land)
        return land
    center = flat_parameters(model)
    if path.points.shape[1] != center.numel():
        raise DataError(
            f"the saved path has {path.points.shape[1]} parameters but the model has "
            f"{center.numel()}; the run directory is inconsistent, retrain it"
        )
    s.path = project_path(path.points, center, s.d1, s.d2)
    s.path_epochs = list(path.epochs)
    on_part("slice", land)
    land.alphas = torch.linspace(-0.5, 1.5, 2 * resolution - 1)
    land.line = interpolate(LossAt(model, X, y, task), path.points[0], center, land.alphas)
    on_part("line", land)
    if len(path.points) >= 3:
        land.plane = path_plane(
            model, X, y, task, path, resolution=resolution, on_progress=on_progress
        )
        on_part("plane", land)
    return land


__all__ = [
    "LinearLandscape",
    "LossAt",
    "LossSlice",
    "NetworkLandscape",
    "descent_path",
    "filter_normalized_direction",
    "fixed_batch",
    "interpolate",
    "linear_landscape",
    "linear_loss_grid",
    "linear_optimum",
    "loss_slice",
    "network_landscape",
    "path_plane",
    "pca_directions",
    "project_path",
]
