r"""The course's lesson 2.3 case: the same sine fit converges at width 10 and diverges at 50.

300 points evenly spaced on $[-2\pi, 2\pi]$, target $\sin(x)$, one hidden ReLU layer, weights
drawn with ``torch.randn`` (std 1 whatever the width), zero biases, MSE, full-batch gradient
descent at lr 1e-2 for 1000 epochs. With std-1 weights the output grows like
$\sqrt{\text{width}}\,|x|$, so at width 50 the first loss is in the hundreds, the first gradients
are huge and every step overshoots further until the loss overflows. Inputs are *not*
standardized, as in the lesson.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from looplab.config import Config
from looplab.data.prepared import PreparedData
from looplab.data.split import Split
from looplab.loop.events import Callback
from looplab.loop.history import History
from looplab.models.mlp import MLP, ModelSpec, build_model
from looplab.run.fit import fit

LESSON_INITS = ("randn", "default", "xavier_normal", "kaiming_normal")


def sine_data(n: int = 300) -> PreparedData:
    """``n`` evenly spaced x on [-2pi, 2pi] and y = sin(x); all rows train, none validate."""
    x = torch.linspace(-2 * math.pi, 2 * math.pi, n).unsqueeze(1)  # (n, 1)
    return PreparedData(
        train=Split(x, torch.sin(x[:, 0])),
        val=None,
        task="regression",
        name="sine (lesson 2.3)",
        feature_names=["x"],
    )


def sine_model(width: int, seed: int, init: str = "randn") -> MLP:
    r"""1 -> width -> 1 ReLU MLP. ``randn``: the lesson's ``torch.manual_seed(seed)`` then
    ``W1 = torch.randn(width, 1)``, ``W2 = torch.randn(1, width)``, zero biases; ``default``:
    PyTorch's $U(\pm 1/\sqrt{\text{fan\_in}})$; ``xavier_normal`` / ``kaiming_normal``: those
    schemes with zero biases."""
    model = build_model(ModelSpec(1, 1, (width,), "relu"), seed=seed)
    if init == "default":
        return model
    fc1, fc2 = model.linear(1), model.linear(2)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for layer in (fc1, fc2):
            if init == "randn":
                layer.weight.copy_(torch.randn(layer.weight.shape))
            elif init == "xavier_normal":
                nn.init.xavier_normal_(layer.weight)
            elif init == "kaiming_normal":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            else:
                raise ValueError(f"init must be one of {LESSON_INITS}, got {init!r}")
            layer.bias.zero_()
    return model


def sine_config(lr: float = 1e-2, epochs: int = 1000, monitor: bool = False) -> Config:
    """Full-batch plain gradient descent, no validation split, as in the lesson."""
    return Config(
        dataset="sine",
        optimizer="sgd",
        lr=lr,
        epochs=epochs,
        batch_size="full",
        val_fraction=0.0,
        standardize=False,
        monitor=monitor,
        device="cpu",
    )


def run_sine_lesson(
    width: int,
    seed: int,
    *,
    init: str = "randn",
    lr: float = 1e-2,
    epochs: int = 1000,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Train the lesson's network once; the history's rows hold the loss of every epoch."""
    model = sine_model(width, seed, init)
    return fit(model, sine_data(), sine_config(lr, epochs), callbacks)
