r"""A small convolutional network for images, LeNet-sized, with named layers like the MLP's.

``conv1 -> act1 -> pool1 -> conv2 -> act2 -> pool2 -> flatten -> fc1 -> act3 -> fc2 -> act4
-> fc3``.
A convolution slides the same small filters over every position of the image, so a stroke is
recognised wherever it is, with a few hundred weights where a linear layer on 784 pixels needs
thousands per unit. Each 5x5 convolution is padded by 2 so it keeps the height and width, and
each 2x2 max-pool halves them: a 28x28 digit becomes 16 maps of 7x7 before the linear layers
(an 8x8 digit, 16 maps of 2x2). Shapes: (batch, C, H, W) in, (batch, classes) logits out.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from looplab.errors import ShapeError
from looplab.models.mlp import ACTIVATION_LAYERS, MLP, ModelSpec, build_model

CHANNELS = (6, 16)  # feature maps of conv1 and conv2, as in LeNet-5
HIDDEN = (120, 84)  # widths of the hidden linear layers, as in LeNet-5
KERNEL = 5


class CNN(nn.Sequential):
    """Two convolution blocks (conv, activation, 2x2 max-pool), then an MLP head on the
    flattened maps: ``spec.hidden`` hidden widths, ``spec.dropout`` after their activations."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        if len(spec.input_shape) != 3:
            raise ShapeError(
                f"a cnn needs image inputs (channels, height, width), got {spec.input_shape}; "
                "use an image dataset (mnist-5k, mnist) or --model mlp"
            )
        self.spec = spec
        channels, height, width = spec.input_shape
        if min(height, width) < 4:
            raise ShapeError(f"a cnn needs images of at least 4x4 pixels, got {height}x{width}")
        act = ACTIVATION_LAYERS[spec.activation]
        for i, out in enumerate(CHANNELS, start=1):
            self.add_module(f"conv{i}", nn.Conv2d(channels, out, KERNEL, padding=KERNEL // 2))
            self.add_module(f"act{i}", act())
            self.add_module(f"pool{i}", nn.MaxPool2d(2))
            channels, height, width = out, height // 2, width // 2
        self.add_module("flatten", nn.Flatten())
        widths = [channels * height * width, *spec.hidden]
        for j, (fan_in, fan_out) in enumerate(itertools.pairwise(widths), start=1):
            self.add_module(f"fc{j}", nn.Linear(fan_in, fan_out))
            self.add_module(f"act{len(CHANNELS) + j}", act())
            if spec.dropout > 0:
                self.add_module(f"drop{len(CHANNELS) + j}", nn.Dropout(spec.dropout))
        self.add_module(f"fc{len(widths)}", nn.Linear(widths[-1], spec.out_features))

    def linear(self, i: int) -> nn.Linear:
        """The linear layer ``fc{i}`` (1-based) of the head, typed, as ``MLP.linear``."""
        layer = self.get_submodule(f"fc{i}")
        assert isinstance(layer, nn.Linear), f"fc{i} is a {type(layer).__name__}"
        return layer

    def forward(self, x: Tensor) -> Tensor:
        """(batch, C, H, W) images -> (batch, out_features) logits."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.spec.input_shape:
            want = ", ".join(str(s) for s in self.spec.input_shape)
            raise ShapeError(
                f"conv1 expects images of shape (batch, {want}) but got {tuple(x.shape)}; "
                "give the model images of that size"
            )
        for layer in self:
            x = layer(x)
        return x


def cnn_spec(input_shape: tuple[int, ...], classes: int, activation: str = "relu",
             dropout: float = 0.0) -> ModelSpec:  # fmt: skip
    """The LeNet-sized spec for images of ``input_shape`` (C, H, W) and ``classes`` outputs."""
    in_features = 1
    for size in input_shape:
        in_features *= size
    return ModelSpec(in_features, classes, HIDDEN, activation, dropout, kind="cnn",
                     input_shape=tuple(input_shape))  # fmt: skip


def build_network(spec: ModelSpec, seed: int | None = None) -> MLP | CNN:
    """The model a spec describes, MLP or CNN; with ``seed``, reproducible initial weights."""
    if spec.kind != "cnn":
        return build_model(spec, seed)
    if seed is None:
        return CNN(spec)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CNN(spec)
