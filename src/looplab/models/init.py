"""Weight initialization schemes, written out from their formulas.

Each scheme fills a linear layer's weight $W$ (out, in) from its fan-in $n_{in}$ and fan-out
$n_{out}$; biases start at zero, except in PyTorch's default. The variance each one aims at:

=================  ===============================================  =====================
scheme             draw                                              Var(W)
=================  ===============================================  =====================
zeros, constant    $W = c$ (c = 0 or ``scale``)                        0
normal             $N(0, \\sigma^2)$, $\\sigma$ = ``scale``                $\\sigma^2$
uniform            $U(-a, a)$, $a$ = ``scale``                          $a^2/3$
xavier_uniform     $U(-a, a)$, $a = \\sqrt{6/(n_{in}+n_{out})}$             $2/(n_{in}+n_{out})$
xavier_normal      $N(0, 2/(n_{in}+n_{out}))$                             $2/(n_{in}+n_{out})$
kaiming_uniform    $U(-a, a)$, $a = \\sqrt{6/n_{in}}$                      $2/n_{in}$
kaiming_normal     $N(0, 2/n_{in})$                                      $2/n_{in}$
default (PyTorch)  $U(-a, a)$, $a = 1/\\sqrt{n_{in}}$, bias too              $1/(3 n_{in})$
=================  ===============================================  =====================

Xavier/Glorot keeps the variance of activations and gradients steady through linear or tanh
layers; Kaiming/He doubles it to make up for ReLU zeroing half its inputs. Constant schemes
give every hidden unit the same weights, so they get the same gradient and stay identical
(``tests/models/test_init.py`` trains such a net and shows it).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def weight_std(scheme: str, fan_in: int, fan_out: int, scale: float = 1.0) -> float:
    """The standard deviation of the weights ``scheme`` draws, from the formulas above."""
    match scheme:
        case "zeros" | "constant":
            return 0.0
        case "normal":
            return scale
        case "uniform":
            return scale / math.sqrt(3)
        case "xavier_uniform" | "xavier_normal":
            return math.sqrt(2 / (fan_in + fan_out))
        case "kaiming_uniform" | "kaiming_normal":
            return math.sqrt(2 / fan_in)
        case "default":
            return 1 / math.sqrt(3 * fan_in)
    raise ValueError(f"no init scheme {scheme!r}")


@torch.no_grad()
def init_linear(
    layer: nn.Linear, scheme: str, scale: float = 1.0, generator: torch.Generator | None = None
) -> None:
    """Fill one layer's weight (and bias) by ``scheme``, drawing from ``generator``."""
    w: Tensor = layer.weight  # (out, in)
    fan_out, fan_in = w.shape
    std = weight_std(scheme, fan_in, fan_out, scale)
    bound = math.sqrt(3) * std  # U(-a, a) has std a / sqrt(3)
    match scheme:
        case "zeros":
            w.zero_()
        case "constant":
            w.fill_(scale)
        case "normal" | "xavier_normal" | "kaiming_normal":
            w.normal_(0.0, std, generator=generator)
        case "uniform" | "xavier_uniform" | "kaiming_uniform" | "default":
            w.uniform_(-bound, bound, generator=generator)
        case _:
            raise ValueError(f"no init scheme {scheme!r}")
    if layer.bias is not None:
        if scheme == "default":
            layer.bias.uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=generator)
        else:
            layer.bias.zero_()


def init_model(model: nn.Module, scheme: str, scale: float = 1.0, seed: int = 0) -> nn.Module:
    """Re-initialize every ``nn.Linear`` of ``model`` by ``scheme``, reproducibly from ``seed``
    (``default`` leaves the model as built: PyTorch already initialized it that way)."""
    if scheme == "default":
        return model
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            init_linear(module, scheme, scale, generator)
    return model
