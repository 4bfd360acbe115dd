"""Lesson 1.2: linear regression by hand: the MSE, its gradients derived, and descent on them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from looplab.lessons.exercise import Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.manual.linear import gradient_descent, least_squares, mse, mse_gradients
from looplab.plots.style import PALETTE, new_figure, save

# ---------------------------------------------------------------- demos


def hand_loop_vs_lstsq(fast: bool = False, out: Path = Path("lessons/1.2")) -> DemoResult:
    """Gradient descent with the hand-derived gradients, checked against the closed form."""
    n = 200 if fast else 2000
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 3, generator=g)  # (N, 3): three features, so w is a vector
    y = X @ torch.tensor([2.0, -1.0, 0.5]) + 1.0 + 0.3 * torch.randn(n, generator=g)  # (N,)

    fit = gradient_descent(X, y, lr=0.1, steps=2000)  # w <- w - lr dL/dw, b <- b - lr dL/db
    w_best, b_best = least_squares(X, y)  # torch.linalg.lstsq on [X, 1]: the oracle
    best_loss = float(mse(X.double(), y.double(), w_best, b_best))

    fig, ax = new_figure()
    gap = [loss - best_loss for loss in fit.losses]  # how far above the optimum each step is
    shown = [(step, v) for step, v in enumerate(gap) if v > 1e-15]  # above float64 rounding
    ax.semilogy(*zip(*shown, strict=True), color=PALETTE[0])
    ax.set_xlabel("step (one full-batch update)")
    ax.set_ylabel("L(w, b) - L(lstsq optimum)")
    ax.set_title(f"hand-derived gradient descent, {n} rows x 3 features, lr 0.1")
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "hand_loop_gap.png"))

    result = DemoResult(figures=[out / "hand_loop_gap.png"])
    result.add("steps", fit.steps, "updates until both gradients were below 1e-12: converged")
    result.add(
        "max |w - w_lstsq|",
        float((fit.w - w_best).abs().max()),
        "how far the hand loop's weights are from torch.linalg.lstsq's: rounding only",
    )
    result.add(
        "|b - b_lstsq|", float((fit.b - b_best).abs()), "the same for the bias: the loop found it"
    )
    result.add(
        "final loss",
        fit.losses[-1],
        f"the MSE reached; noise variance is {0.3**2:.3g}, the floor no line can beat",
    )
    return result


def gradients_vs_autograd(fast: bool = False, out: Path = Path("lessons/1.2")) -> DemoResult:
    """The hand-derived dL/dw and dL/db against what autograd computes, at random weights."""
    g = torch.Generator().manual_seed(1)
    X = torch.randn(50, 4, generator=g, dtype=torch.float64)  # (N, d)
    y = torch.randn(50, generator=g, dtype=torch.float64)  # (N,)
    w = torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True)  # (d,)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)

    dw, db = mse_gradients(X, y, w.detach(), b.detach())  # 2/N X^T r and 2/N sum(r)
    F.mse_loss(X @ w + b, y).backward()  # autograd fills w.grad and b.grad
    assert w.grad is not None and b.grad is not None

    result = DemoResult()
    result.add(
        "max |dL/dw - autograd|",
        float((dw - w.grad).abs().max()),
        "the derivation 2/N X^T (Xw + b - y) agrees with autograd to float64 rounding",
    )
    result.add(
        "|dL/db - autograd|",
        float((db - b.grad).abs()),
        "and 2/N sum(Xw + b - y) is the bias's gradient",
    )
    return result


# ---------------------------------------------------------------- exercise 1.2.1: the MSE


def mse_loss(pred: Tensor, target: Tensor) -> Tensor:
    """The mean squared error: the mean, over every element, of (pred - target) ** 2.

    pred and target have the same shape, any shape: (N,), (N, k), ... Return a scalar
    tensor (shape ()). Use tensor operations, no Python loop.

    >>> mse_loss(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 0.0, 1.0]))
    tensor(4.3333)
    """
    return ((pred - target) ** 2).mean()


def _pairs() -> list[Case]:
    def make(shape: tuple[int, ...], seed: int) -> Case:
        def args() -> tuple[Tensor, Tensor]:
            g = torch.Generator().manual_seed(seed)
            return torch.randn(shape, generator=g), torch.randn(shape, generator=g)

        return Case(f"shape {shape}", args)

    return [make(s, k) for k, s in enumerate([(7,), (16, 3), (1,), (2, 3, 5)])]


def _mse_oracle(pred: Tensor, target: Tensor) -> Outputs:
    return {"result": F.mse_loss(pred, target)}


MSE_LOSS = Exercise(
    id="1.2.1",
    title="the mean squared error",
    solution=mse_loss,
    cases=_pairs,
    oracle=_mse_oracle,
    oracle_name="torch.nn.functional.mse_loss",
    hints=(
        "the residual is pred - target; square it elementwise, then average",
        "((pred - target) ** 2).mean() averages over every element and returns shape ()",
    ),
    mistakes=(
        Mistake(
            "sum instead of mean",
            "you summed the squared errors: the MSE is their mean (.mean(), not .sum())",
            lambda p, t: {"result": F.mse_loss(p, t, reduction="sum")},
        ),
        Mistake(
            "absolute instead of squared",
            "square each difference ((pred - target) ** 2): the mean absolute error is "
            "another loss",
            lambda p, t: {"result": F.l1_loss(p, t)},
        ),
        Mistake(
            "root of the mean",
            "no square root: that is the RMSE; the MSE stops at the mean",
            lambda p, t: {"result": F.mse_loss(p, t).sqrt()},
        ),
    ),
)

# ---------------------------------------------------------------- exercise 1.2.2: gradients


def mse_grad(X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """The gradients of L(w, b) = mean((X @ w + b - y) ** 2), derived by hand (no autograd).

    X is (N, d), y is (N,), w is (d,), b is a scalar tensor. With the residuals
    r = X @ w + b - y (shape (N,)): dL/dw = 2/N X^T r (shape (d,)) and dL/db = 2/N sum(r)
    (shape ()). Return (dL/dw, dL/db).

    >>> X = torch.tensor([[1.0], [2.0]]); y = torch.tensor([1.0, 1.0])
    >>> mse_grad(X, y, torch.tensor([1.0]), torch.tensor(0.0))
    (tensor([2.]), tensor(1.))
    """
    n = len(X)
    r = X @ w + b - y  # (N,) residuals: prediction minus target
    return 2 / n * (X.T @ r), 2 / n * r.sum()


def _line_cases() -> list[Case]:
    def make(n: int, d: int, seed: int) -> Case:
        def args() -> tuple[Tensor, Tensor, Tensor, Tensor]:
            g = torch.Generator().manual_seed(seed)
            X = torch.randn(n, d, generator=g)
            y, w = torch.randn(n, generator=g), torch.randn(d, generator=g)
            return X, y, w, torch.randn((), generator=g)

        return Case(f"N={n}, d={d}", args)

    return [make(5, 1, 0), make(32, 3, 1), make(64, 8, 2), make(4, 4, 3)]


def _autograd_line(X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> Outputs:
    w, b = w.clone().requires_grad_(), b.clone().requires_grad_()
    dw, db = torch.autograd.grad(F.mse_loss(X @ w + b, y), [w, b])
    return {"dL/dw": dw, "dL/db": db}


def _scaled(factor: float) -> Callable[..., Outputs]:
    def output(X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> Outputs:
        return {k: factor * v for k, v in _autograd_line(X, y, w, b).items()}

    return output


def _no_transpose(X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> Outputs:
    r = X @ w + b - y
    return {"dL/dw": 2 / len(X) * (X @ r), "dL/db": 2 / len(X) * r.sum()}


TRANSPOSE_HINT = (
    "X is (N, d) and r is (N,): the weights' gradient is X.T @ r, (d, N) @ (N,) -> (d,)"
)

MSE_GRAD = Exercise(
    id="1.2.2",
    title="the MSE gradient of a line, by hand",
    solution=mse_grad,
    cases=_line_cases,
    oracle=_autograd_line,
    oracle_name="autograd on torch.nn.functional.mse_loss",
    outputs=("dL/dw", "dL/db"),
    hints=(
        "write the residuals r = X @ w + b - y first; each gradient is 2/N times a sum of them",
        "d(r_i^2)/dw = 2 r_i x_i: summed over rows that is X.T @ r; the bias's x_i is 1",
        "return 2 / N * (X.T @ r), 2 / N * r.sum()",
    ),
    mistakes=(
        Mistake(
            "sign error",
            "the sign is flipped: with r = prediction - target (X @ w + b - y) the gradient is "
            "+2/N X.T @ r; you used target - prediction",
            _scaled(-1.0),
        ),
        Mistake(
            "sum instead of mean",
            "you summed over the rows: the loss is a mean, so its gradient keeps the 1/N "
            "(2/N X.T @ r)",
            lambda X, y, w, b: {k: len(X) * v for k, v in _autograd_line(X, y, w, b).items()},
        ),
        Mistake(
            "missing factor 2",
            "the derivative of r^2 is 2 r: you dropped the factor 2",
            _scaled(0.5),
        ),
        Mistake("missing transpose", TRANSPOSE_HINT, _no_transpose, error=r"size mismatch"),
    ),
)

# ---------------------------------------------------------------- exercise 1.2.3: descent


def full_batch_descent(X: Tensor, y: Tensor, lr: float, epochs: int) -> tuple[Tensor, Tensor]:
    """Linear regression by full-batch gradient descent, by hand (no autograd, no optimizer).

    Start from w = zeros (d,) and b = 0 (a scalar tensor). Each epoch is one update on all
    N rows: r = X @ w + b - y, then w <- w - lr * 2/N X^T r and b <- b - lr * 2/N sum(r).
    X is (N, d), y is (N,). Return (w, b) after ``epochs`` updates.

    >>> full_batch_descent(torch.tensor([[1.0], [2.0]]), torch.tensor([2.0, 4.0]), 0.1, 1)
    (tensor([1.]), tensor(0.6000))
    """
    n, d = X.shape
    w, b = torch.zeros(d), torch.zeros(())
    for _ in range(epochs):
        r = X @ w + b - y  # (N,)
        w, b = w - lr * 2 / n * (X.T @ r), b - lr * 2 / n * r.sum()
    return w, b


def _descent_cases() -> list[Case]:
    def make(n: int, d: int, lr: float, epochs: int, seed: int) -> Case:
        def args() -> tuple[Tensor, Tensor, float, int]:
            g = torch.Generator().manual_seed(seed)
            X = torch.randn(n, d, generator=g)
            y = X @ torch.randn(d, generator=g) + 0.5 + 0.1 * torch.randn(n, generator=g)
            return X, y, lr, epochs

        return Case(f"N={n}, d={d}, lr={lr}, epochs={epochs}", args)

    return [make(20, 1, 0.1, 5, 0), make(50, 3, 0.05, 30, 1), make(100, 4, 0.2, 10, 2)]


def _torch_descent(X: Tensor, y: Tensor, lr: float, epochs: int, maximize: bool = False) -> Outputs:
    w = torch.zeros(X.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr, maximize=maximize)
    for _ in range(epochs):
        optimizer.zero_grad()
        F.mse_loss(X @ w + b, y).backward()
        optimizer.step()
    return {"w": w.detach(), "b": b.detach()}


FULL_BATCH_DESCENT = Exercise(
    id="1.2.3",
    title="full-batch gradient descent for linear regression",
    solution=full_batch_descent,
    cases=_descent_cases,
    oracle=_torch_descent,
    oracle_name="torch.optim.SGD on autograd's gradients, one full-batch step per epoch",
    outputs=("w", "b"),
    hints=(
        "each epoch: residuals, then both gradients, then both updates, all on every row",
        "compute r once per epoch from the current w and b, then w - lr * 2/N X.T @ r",
    ),
    mistakes=(
        Mistake(
            "ascent",
            "the weights move uphill: subtract lr * gradient (w - lr * dw), do not add it",
            lambda X, y, lr, epochs: _torch_descent(X, y, lr, epochs, maximize=True),
        ),
        Mistake(
            "sum instead of mean",
            "your steps are N times too long: the gradient of a mean keeps the 1/N (2/N X.T @ r)",
            lambda X, y, lr, epochs: _torch_descent(X, y, lr * len(X), epochs),
        ),
        Mistake(
            "one update too many",
            "one update too many: do exactly `epochs` updates (for _ in range(epochs))",
            lambda X, y, lr, epochs: _torch_descent(X, y, lr, epochs + 1),
        ),
        Mistake(
            "one update too few",
            "one update too few: do exactly `epochs` updates (for _ in range(epochs))",
            lambda X, y, lr, epochs: _torch_descent(X, y, lr, epochs - 1),
        ),
    ),
)

LESSON = Lesson(
    id="1.2",
    title="Linear regression by hand",
    minutes=25,
    eli5=(
        "A line has two knobs: how steep it is (w) and where it crosses zero (b). The loss "
        "says how far the line is from the points, on average, squared. The gradient says "
        "which way each knob makes the loss grow; we turn each knob a little the other way, "
        "again and again. For a line we can work the gradient out with pen and paper, and we "
        "can even solve for the best knobs directly, so we can check the loop's answer exactly."
    ),
    equations=(
        r"L(w, b) = \frac{1}{N} \sum_{i=1}^{N} (x_i \cdot w + b - y_i)^2, \qquad r = X w + b - y",
        r"\frac{\partial L}{\partial w} = \frac{2}{N} X^\top r, \qquad "
        r"\frac{\partial L}{\partial b} = \frac{2}{N} \sum_i r_i",
        r"w \leftarrow w - \eta \frac{\partial L}{\partial w}, \qquad "
        r"b \leftarrow b - \eta \frac{\partial L}{\partial b}",
        r"(w^*, b^*) = \arg\min_{w, b} \lVert [X, 1] [w; b] - y \rVert^2 "
        r"\quad \text{(torch.linalg.lstsq)}",
    ),
    look_at=(
        "hand_loop_gap.png: the distance to the optimum falls on a straight line on a log "
        "axis: each step removes the same fraction of it (the bowl is a quadratic)",
        "the hand loop's w and b equal lstsq's to about 1e-12: the derivation is right",
        "the final loss sits at the noise variance: no line can explain the noise",
    ),
    demos=(
        Demo("gradient descent by hand vs lstsq", hand_loop_vs_lstsq, ("hand_loop_gap.png",)),
        Demo("hand-derived gradients vs autograd", gradients_vs_autograd),
    ),
    exercises=(MSE_LOSS, MSE_GRAD, FULL_BATCH_DESCENT),
)
