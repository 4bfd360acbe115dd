"""Linear regression by hand: the hand-derived gradients equal autograd's, and gradient
descent lands on the closed-form least-squares solution."""

from __future__ import annotations

import torch

from looplab.data.registry import load_dataset
from looplab.manual.linear import gradient_descent, least_squares, mse, mse_gradients


def test_hand_derived_gradients_equal_autograd() -> None:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(50, 3, generator=g, dtype=torch.float64)
    y = torch.randn(50, generator=g, dtype=torch.float64)
    w = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn((), generator=g, dtype=torch.float64, requires_grad=True)
    mse(X, y, w, b).backward()
    dw, db = mse_gradients(X, y, w.detach(), b.detach())
    assert w.grad is not None and b.grad is not None
    torch.testing.assert_close(dw, w.grad, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(db, b.grad, rtol=1e-12, atol=1e-14)


def test_gradient_descent_converges_to_lstsq_on_the_linear_dataset() -> None:
    data = load_dataset("linear", n=200, noise=0.1, seed=0)
    fit = gradient_descent(data.X, data.y, lr=0.1, steps=5000)
    w, b = least_squares(data.X, data.y)
    assert (fit.w - w).abs().max() < 1e-4
    assert abs(float(fit.b - b)) < 1e-4
    # the toy is y = 3x + 1: least squares is near it, and the loss fell all the way
    assert abs(float(w[0]) - 3) < 0.1 and abs(float(b) - 1) < 0.1
    assert fit.losses[0] > 1 > 0.02 > fit.losses[-1]
    assert fit.steps < 5000  # stopped because the gradient vanished, not because steps ran out


def test_gradient_descent_diverges_with_too_large_a_step() -> None:
    data = load_dataset("linear", n=200, noise=0.1, seed=0)
    fit = gradient_descent(data.X, data.y, lr=1.5, steps=50)  # lr above 2 / largest curvature
    assert fit.losses[-1] > fit.losses[0] * 1e3
