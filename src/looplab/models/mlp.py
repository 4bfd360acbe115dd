"""Multi-layer perceptrons built from a spec, with readable layer names.

A *neuron* is one element of a layer's output vector; a *layer* computes the whole vector at
once: $h = \\sigma(x W^T + b)$ with $x$ of shape (batch, in), $W$ of shape (out, in) and $h$ of
shape (batch, out). The batch is the first dimension of every tensor, so no code here loops
over examples. The model outputs raw scores (logits); the loss applies softmax or sigmoid.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from looplab.errors import ShapeError

ACTIVATION_LAYERS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "identity": nn.Identity,
}

# Normalization after each hidden linear layer, before its activation.
NORM_LAYERS: dict[str, type[nn.Module]] = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a model: saved with every run next to its weights."""

    in_features: int
    out_features: int
    hidden: tuple[int, ...] = ()  # () is a linear model
    activation: str = "relu"
    dropout: float = 0.0
    norm: str = "none"  # "batch" or "layer" normalization after each hidden linear layer
    residual: bool = False  # skip connections around hidden layers of equal width
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = "mlp"  # "mlp" (also a linear model: no hidden layers) or "cnn"
    # (channels, height, width) of image inputs: an MLP flattens them to in_features numbers
    # per row, a CNN convolves them; () for rows of features
    input_shape: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        shape = tuple(d.get("input_shape", ()))
        return cls(**{**d, "hidden": tuple(d.get("hidden", ())), "input_shape": shape})


class MLP(nn.Sequential):
    """``fc1 [-> norm1] -> act1 [-> drop1] -> fc2 -> ... -> fcN``: linear layers with activations
    between, optionally normalized (batch or layer norm before each activation).

    With ``residual``, a hidden layer whose output is as wide as its input becomes a skip block,
    $h_i = h_{i-1} + \\mathrm{act}(\\mathrm{norm}(W_i h_{i-1} + b_i))$: the identity path
    carries the gradient past layers that would shrink it. With no hidden layers it is linear
    regression / logistic regression: a single ``fc1``.
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        widths = [spec.in_features, *spec.hidden]
        self.blocks: list[list[str]] = []  # the layer names of each hidden layer, then [fcN]
        self.skips: set[int] = set()  # indexes into blocks that add their input to their output
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths), start=1):
            names = [f"fc{i}"]
            self.add_module(f"fc{i}", nn.Linear(fan_in, fan_out))
            if spec.norm != "none":
                self.add_module(f"norm{i}", NORM_LAYERS[spec.norm](fan_out))
                names.append(f"norm{i}")
            self.add_module(f"act{i}", ACTIVATION_LAYERS[spec.activation]())
            names.append(f"act{i}")
            if spec.dropout > 0:
                self.add_module(f"drop{i}", nn.Dropout(spec.dropout))
                names.append(f"drop{i}")
            if spec.residual and fan_in == fan_out:
                self.skips.add(len(self.blocks))
            self.blocks.append(names)
        self.add_module(f"fc{len(widths)}", nn.Linear(widths[-1], spec.out_features))
        self.blocks.append([f"fc{len(widths)}"])

    def linear(self, i: int) -> nn.Linear:
        """The linear layer ``fc{i}`` (1-based), typed: ``model.fc1`` is the same module, but a
        type checker only knows it as ``Tensor | Module``."""
        layer = self.get_submodule(f"fc{i}")
        assert isinstance(layer, nn.Linear), f"fc{i} is a {type(layer).__name__}"
        return layer

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in_features) -> (batch, out_features) logits; images (batch, C, H, W) of the
        spec's ``input_shape`` are flattened first, row by row, to (batch, C * H * W)."""
        if self.spec.input_shape and x.ndim == 4:
            x = x.flatten(1)  # (batch, C * H * W)
        check_input_width(x, self.spec.in_features)
        if not self.skips:
            for layer in self:
                x = layer(x)
            return x
        for i, names in enumerate(self.blocks):
            h = x  # (batch, width of this block's input)
            for name in names:
                h = self.get_submodule(name)(h)
            x = x + h if i in self.skips else h  # a skip block adds its input back
        return x


def check_input_width(x: Tensor, in_features: int) -> None:
    """A (batch, in_features) input, or a ShapeError in the course's words (not PyTorch's
    ``mat1 and mat2 shapes cannot be multiplied``)."""
    if x.ndim != 2 or x.shape[1] != in_features:
        got = f"(batch, {x.shape[1]})" if x.ndim == 2 else str(tuple(x.shape))
        raise ShapeError(
            f"fc1 expects inputs of shape (batch, {in_features}) but got {got}; "
            f"give the model {in_features} features per row"
        )


def parameter_count(spec: ModelSpec) -> int:
    """The number of parameters the spec's MLP has, without building it: weights and biases of
    each linear layer, plus a scale and a shift per unit of each normalization layer."""
    widths = [spec.in_features, *spec.hidden, spec.out_features]
    linear = sum((a + 1) * b for a, b in itertools.pairwise(widths))
    norms = 2 * sum(spec.hidden) if spec.norm != "none" else 0
    return linear + norms


def build_model(spec: ModelSpec, seed: int | None = None) -> MLP:
    """Build the model a spec describes; with ``seed``, its initial weights are reproducible."""
    if seed is None:
        return MLP(spec)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLP(spec)
