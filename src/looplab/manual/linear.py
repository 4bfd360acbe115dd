r"""Linear regression by hand: gradient descent on the mean squared error, no autograd.

The model is $\hat y = X w + b$ with $X$ (N, d), $w$ (d,), $b$ a scalar, and the loss

$$L(w, b) = \frac1N \sum_{i=1}^N (x_i \cdot w + b - y_i)^2 = \frac1N \lVert r \rVert^2,
\qquad r = X w + b - y \quad \text{(the residuals, shape (N,))}.$$

Differentiating one residual at a time, $\partial r_i / \partial w = x_i$ and
$\partial r_i / \partial b = 1$, so by the chain rule ($\partial r_i^2 = 2 r_i \, \partial r_i$)

$$\frac{\partial L}{\partial w} = \frac2N \sum_i r_i x_i = \frac2N X^\top (X w + b - y),
\qquad \frac{\partial L}{\partial b} = \frac2N \sum_i r_i = \frac2N \sum (X w + b - y).$$

Gradient descent repeats $w \leftarrow w - \eta\, \partial L/\partial w$,
$b \leftarrow b - \eta\, \partial L/\partial b$. The loss is a convex quadratic, so for a small
enough $\eta$ this converges to the least-squares solution that
:func:`least_squares` computes in closed form (``torch.linalg.lstsq``): the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


def mse(X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> Tensor:
    r"""$\frac1N \lVert X w + b - y \rVert^2$: X (N, d), y (N,), w (d,), b () -> scalar."""
    r = X @ w + b - y  # (N,)
    return (r * r).mean()


def mse_gradients(X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    r"""The hand-derived gradients $(\partial L/\partial w, \partial L/\partial b)$:
    $\frac2N X^\top r$ (d,) and $\frac2N \sum r$ (), with $r = X w + b - y$."""
    n = len(X)
    r = X @ w + b - y  # (N,) residuals
    return 2 / n * (X.T @ r), 2 / n * r.sum()


@dataclass
class LinearFit:
    """The weights gradient descent reached, and the loss before each step."""

    w: Tensor  # (d,)
    b: Tensor  # ()
    losses: list[float] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.losses)


def gradient_descent(
    X: Tensor, y: Tensor, lr: float = 0.1, steps: int = 2000, tol: float = 1e-12
) -> LinearFit:
    """Full-batch gradient descent from zeros, in float64; stops early once both gradients'
    largest entry is below ``tol`` (the minimum is reached to machine precision)."""
    X, y = X.double(), y.double()
    w = torch.zeros(X.shape[1], dtype=torch.float64)
    b = torch.zeros((), dtype=torch.float64)
    fit = LinearFit(w, b)
    for _ in range(steps):
        fit.losses.append(float(mse(X, y, w, b)))
        dw, db = mse_gradients(X, y, w, b)
        w, b = w - lr * dw, b - lr * db  # the update rule, nothing more
        if max(float(dw.abs().max()), float(db.abs())) < tol:
            break
    fit.w, fit.b = w, b
    return fit


def least_squares(X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """The closed-form minimiser ``(w, b)`` of the same loss, by ``torch.linalg.lstsq`` on
    ``[X, 1]`` (the column of ones carries the bias)."""
    X, y = X.double(), y.double()
    A = torch.cat([X, torch.ones(len(X), 1, dtype=torch.float64)], dim=1)  # (N, d + 1)
    solution = torch.linalg.lstsq(A, y[:, None]).solution[:, 0]  # (d + 1,)
    return solution[:-1], solution[-1]
