"""What the model learned, drawn over the data: a decision boundary (2-D classification), a
fitted curve (1-D regression) or predicted against true values (regression on more features),
in the features' and the target's original units."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from torch import Tensor, nn

from looplab.data.preprocess import Preprocessor
from looplab.data.task_data import Truth
from looplab.models.losses import predict_output
from looplab.plots.style import PALETTE, new_figure, wrapped


def _raw(X: Tensor, pre: Preprocessor | None) -> Tensor:
    """Undo standardization so axes show the data's own units."""
    return X if pre is None or not pre.standardize else X * pre.std + pre.mean


def _raw_target(y: Tensor, pre: Preprocessor | None) -> Tensor:
    """Undo a regression target's standardization: values in the target's own units."""
    return y if pre is None else pre.unscale_target(y)


def _predict(model: nn.Module, X_raw: Tensor, pre: Preprocessor | None, task: str) -> Tensor:
    """What the model says for raw inputs: P(class 1), class probabilities, or a value in the
    target's units."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        X = pre.transform(X_raw) if pre is not None else X_raw
        out = predict_output(model(X.to(device)), task).cpu()
    model.train(was_training)
    return _raw_target(out, pre) if task == "regression" else out


def decision_boundary(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    task: str,
    class_names: list[str],
    pre: Preprocessor | None,
    title: str,
    feature_names: tuple[str, str] = ("x1", "x2"),
    resolution: int = 200,
) -> Figure:
    """Regions the model assigns to each class, with the (standardized) points ``X`` on top;
    the colour bar says what the background colour is: P(class 1), or the predicted class."""
    pts = _raw(X, pre).numpy()
    pad = 0.1 * (pts.max(axis=0) - pts.min(axis=0)) + 1e-6
    lo, hi = pts.min(axis=0) - pad, pts.max(axis=0) + pad
    g1, g2 = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = torch.tensor(np.c_[g1.ravel(), g2.ravel()], dtype=torch.float32)  # (res*res, 2)
    out = _predict(model, grid, pre, task)
    fig, ax = new_figure(6.0, 5.0)
    k = len(class_names)
    colours = PALETTE[:k]
    if task == "binary":
        p1 = out.reshape(g1.shape).numpy()
        filled = ax.contourf(g1, g2, p1, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35)
        ax.contour(g1, g2, p1, levels=[0.5], colors="k", linewidths=1.5)
        colours = ["#2166AC", "#B2182B"]
        bar = fig.colorbar(filled, ax=ax, ticks=np.linspace(0, 1, 6))
        bar.set_label(f"model's P({class_names[1]}); black line: 0.5")
    else:
        labels = out.argmax(dim=1).reshape(g1.shape).numpy()
        filled = ax.contourf(
            g1, g2, labels, levels=np.arange(k + 1) - 0.5, cmap=ListedColormap(colours), alpha=0.25
        )
        bar = fig.colorbar(filled, ax=ax, ticks=np.arange(k))
        bar.set_ticklabels(class_names)
        bar.set_label("class the model predicts")
    labels_true = y.long().numpy()
    for c, name in enumerate(class_names):
        mask = labels_true == c
        ax.scatter(
            pts[mask, 0],
            pts[mask, 1],
            s=12,
            color=colours[c],
            edgecolors="white",
            linewidths=0.3,
            label=name,
        )
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    ax.set_title(wrapped(title))
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    ax.grid(False)
    return fig


def fitted_curve(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    pre: Preprocessor | None,
    title: str,
    feature_name: str = "x",
    truth: Truth | None = None,
    target_name: str = "y",
) -> Figure:
    """The model's prediction over the range of a single feature, with the data points and,
    for synthetic data, the true function they were drawn from; all in the data's units."""
    xs = _raw(X, pre)[:, 0].numpy()
    grid = torch.linspace(float(xs.min()), float(xs.max()), 400).unsqueeze(1)  # (400, 1)
    fig, ax = new_figure()
    ax.scatter(xs, _raw_target(y, pre).numpy(), s=10, color=PALETTE[0], alpha=0.6, label="data")
    ax.plot(
        grid[:, 0].numpy(),
        _predict(model, grid, pre, "regression").numpy(),
        color=PALETTE[3],
        lw=2.5,
        label="model",
    )
    if truth is not None:  # on top, dashed: where the model sits on it, both stay visible
        ax.plot(grid[:, 0].numpy(), truth.fn(grid[:, 0]).numpy(), color="black", lw=1.2,
                ls=(0, (4, 3)), label=f"truth: {truth.formula}")  # fmt: skip
    ax.set_xlabel(feature_name)
    ax.set_ylabel(target_name)
    ax.set_title(wrapped(title))
    ax.legend()
    return fig


def r_squared(truth: np.ndarray, predicted: np.ndarray) -> float:
    r"""$R^2 = 1 - \sum (y - \hat y)^2 / \sum (y - \bar y)^2$, as scikit-learn's ``r2_score``
    gives it (1 for a constant target predicted exactly, else 0 for one), without importing
    scikit-learn for a figure's title."""
    residual = float(((truth - predicted) ** 2).sum())
    spread = float(((truth - truth.mean()) ** 2).sum())
    if spread == 0:
        return 1.0 if residual == 0 else 0.0
    return 1 - residual / spread


def predicted_vs_true(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    pre: Preprocessor | None,
    title: str,
    target_name: str = "y",
) -> Figure:
    """Each row's prediction against its true value, in the target's units, with the line
    predicted = true; a regression on many features has no curve to draw, but this."""
    truth = _raw_target(y, pre).numpy()
    predicted = _predict(model, _raw(X, pre), pre, "regression").numpy()
    fig, ax = new_figure(5.6, 5.0)
    ax.scatter(truth, predicted, s=12, color=PALETTE[0], alpha=0.6, label="rows")
    lo = float(min(truth.min(), predicted.min()))
    hi = float(max(truth.max(), predicted.max()))
    ax.plot([lo, hi], [lo, hi], color="black", lw=1, ls="--", label="predicted = true")
    ax.set_xlabel(f"true {target_name}")
    ax.set_ylabel(f"predicted {target_name}")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(wrapped(f"{title}, R$^2$ = {r_squared(truth, predicted):.4g}"))
    ax.legend(loc="upper left")
    return fig
