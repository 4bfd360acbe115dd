r"""Layers written by hand on numpy arrays: each one's backward sits right next to its forward.

Every ``forward`` keeps what its ``backward`` needs; ``backward(grad)`` takes
$\partial L / \partial \text{output}$ and returns $\partial L / \partial \text{input}$ (the chain
rule, one layer at a time). Shapes: the batch is the first dimension, ``x`` is (batch, in).
No autograd anywhere: the derivatives are the ones derived in the course.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

Array = np.ndarray[Any, np.dtype[np.floating[Any]]]

LEAKY_SLOPE = 0.01  # nn.LeakyReLU's default negative slope


class Layer(Protocol):
    """What the manual network needs from a layer."""

    def forward(self, x: Array) -> Array: ...

    def backward(self, grad: Array) -> Array: ...


class Linear:
    r"""$y = x W^T + b$ with ``weight`` (out, in) and ``bias`` (out,), the layout of nn.Linear.

    Backward: $\partial L/\partial W = g^T x$, $\partial L/\partial b = \sum_{\text{batch}} g$,
    $\partial L/\partial x = g W$, where $g = \partial L/\partial y$ is (batch, out).
    """

    def __init__(
        self,
        weight: Array,
        bias: Array,
        input_grad: bool = True,
        grads_into: tuple[Array, Array] | None = None,
    ) -> None:
        self.weight, self.bias = weight, bias
        self.input_grad = input_grad  # the first layer's input is data: skip its gradient
        # arrays shaped as (weight, bias) that backward writes the gradients into (the manual
        # engine's flat gradient), else each backward makes new ones
        self.grads_into = grads_into or (None, None)
        self.grad_weight: Array | None = None
        self.grad_bias: Array | None = None
        self.x: Array | None = None

    def forward(self, x: Array) -> Array:
        self.x = x  # (batch, in)
        y = x @ self.weight.T  # (batch, out)
        y += self.bias  # broadcast over the batch, in place: no second array
        return y

    def backward(self, grad: Array) -> Array:
        assert self.x is not None, "backward before forward"
        into_weight, into_bias = self.grads_into
        self.grad_weight = np.matmul(grad.T, self.x, out=into_weight)  # (out, in): sums the batch
        self.grad_bias = np.add.reduce(grad, axis=0, out=into_bias)  # (out,): grad.sum(0)
        if not self.input_grad:
            return grad  # nobody reads it
        return grad @ self.weight  # (batch, in)


class ReLU:
    r"""$\max(x, 0)$; its derivative is 1 where the output is positive, else 0 (as in torch)."""

    def __init__(self) -> None:
        self.y: Array | None = None

    def forward(self, x: Array) -> Array:
        self.y = np.maximum(x, 0)
        return self.y

    def backward(self, grad: Array) -> Array:
        assert self.y is not None, "backward before forward"
        return grad * (self.y > 0)


class LeakyReLU:
    r"""$x$ where $x > 0$, else $0.01 x$; the derivative is 1 or 0.01."""

    def __init__(self, slope: float = LEAKY_SLOPE) -> None:
        self.slope = slope
        self.positive: np.ndarray[Any, np.dtype[np.bool_]] | None = None

    def forward(self, x: Array) -> Array:
        self.positive = x > 0
        return np.where(self.positive, x, self.slope * x)

    def backward(self, grad: Array) -> Array:
        assert self.positive is not None, "backward before forward"
        return np.where(self.positive, grad, self.slope * grad)


class Tanh:
    r"""$\tanh(x)$; $\tanh'(x) = 1 - \tanh^2(x)$, computed from the saved output."""

    def __init__(self) -> None:
        self.y: Array | None = None

    def forward(self, x: Array) -> Array:
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad: Array) -> Array:
        assert self.y is not None, "backward before forward"
        return grad * (1 - self.y * self.y)


class Sigmoid:
    r"""$\sigma(x) = 1/(1 + e^{-x}) = \tfrac12(1 + \tanh(x/2))$ (the second form never overflows);
    $\sigma'(x) = \sigma(x)(1 - \sigma(x))$."""

    def __init__(self) -> None:
        self.y: Array | None = None

    def forward(self, x: Array) -> Array:
        self.y = 0.5 * (1 + np.tanh(0.5 * x))
        return self.y

    def backward(self, grad: Array) -> Array:
        assert self.y is not None, "backward before forward"
        return grad * self.y * (1 - self.y)


class Identity:
    """$x$ itself; the gradient passes through unchanged."""

    def forward(self, x: Array) -> Array:
        return x

    def backward(self, grad: Array) -> Array:
        return grad


ACTIVATIONS: dict[str, type[ReLU | LeakyReLU | Tanh | Sigmoid | Identity]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "leaky_relu": LeakyReLU,
    "identity": Identity,
}
