"""Lesson 3.4: deep networks: the gradient's norm layer by layer through 20 layers (vanishing
with sigmoid and tanh), and what batch norm, layer norm and residual connections change."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.style import DPI, PALETTE, save
from looplab.run.fit import fit
from looplab.run.threads import torch_threads
from looplab.watch.monitors import LayerMonitor, layer_columns

# ---------------------------------------------------------------- demos


def gradient_norm_by_layer(fast: bool = False, out: Path = Path("lessons/3.4")) -> DemoResult:
    """A 2-(32 x 20)-1 MLP, 21 linear layers, fresh from PyTorch's default init, and one
    backward pass of the moons' loss (256 rows): the norm of each layer's weight gradient.
    The chain rule multiplies one factor per layer, the activation's slope times the weights;
    sigmoid's slope is at most 1/4, so the product shrinks geometrically towards the input.
    Each activation four ways: plain, layer norm or batch norm before each activation, and
    residual (each 32-to-32 layer adds its input back: h + act(W h + b))."""
    data = load_prepared(Config())
    assert isinstance(data.train, Split)
    X, y = data.train.X[:256], data.train.y[:256]  # (256, 2), (256,)
    variants = {"plain": ("none", False), "layer norm": ("layer", False),
                "batch norm": ("batch", False), "residual": ("none", True)}  # fmt: skip
    activations = ("sigmoid", "tanh", "relu")
    norms: dict[tuple[str, str], list[float]] = {}  # (activation, variant) -> per layer
    for activation in activations:  # small steps: one thread is faster on a busy machine
        for variant, (norm, residual) in variants.items():
            spec = ModelSpec(2, 1, (32,) * 20, activation, norm=norm, residual=residual)
            model = build_model(spec, seed=0)
            with torch_threads(1):
                loss = F.binary_cross_entropy_with_logits(model(X)[:, 0], y)
                loss.backward()
            norms[activation, variant] = [
                float(model.linear(i).weight.grad.norm())  # type: ignore[union-attr]
                for i in range(1, 22)
            ]

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), dpi=DPI, layout="constrained")
    for ax, activation in zip(axes, activations, strict=True):
        for variant, colour in zip(variants, PALETTE, strict=False):
            ax.semilogy(range(1, 22), norms[activation, variant], "o-", ms=3, color=colour,
                        label=variant)  # fmt: skip
        ax.set_xlabel("layer (1 = next to the input, 21 = the output)")
        ax.set_ylabel("|dL/dW| of the layer")
        ax.set_title(f"2-(32 x 20)-1, {activation}, default init, before training")
        ax.legend(fontsize=8)
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "gradient_by_layer.png"))

    result = DemoResult(figures=[out / "gradient_by_layer.png"])
    for activation in activations:
        for variant in variants:
            values = norms[activation, variant]
            result.add(
                f"fc1 / fc21 gradient norm, {activation}, {variant}",
                values[0] / values[-1],
                f"the first layer's gradient norm {values[0]:.3g}, the last's {values[-1]:.3g}",
            )
    return result


def training_deep_sigmoid(fast: bool = False, out: Path = Path("lessons/3.4")) -> DemoResult:
    """The same 20-hidden-layer sigmoid network trained on the moons (Adam lr 1e-3, batches
    of 32), plain and with each fix, watched by looplab's layer monitor, which records every
    layer's gradient norm at every step (``--monitor``). A 2-layer net is the reference."""
    config = Config(epochs=3 if fast else 15, device="cpu", lr=1e-3, activation="sigmoid")
    data = load_prepared(config)
    variants = {"plain": ("none", False, 20), "layer norm": ("layer", False, 20),
                "batch norm": ("batch", False, 20), "residual": ("none", True, 20),
                "2 hidden layers": ("none", False, 2)}  # fmt: skip
    runs = {}  # variant -> (validation accuracy per epoch, fc1's gradient norm per epoch)
    for variant, (norm, residual, depth) in variants.items():
        spec = ModelSpec(2, 1, (32,) * depth, "sigmoid", norm=norm, residual=residual)
        monitor = LayerMonitor(histogram_epochs=[])
        history = fit(build_model(spec, seed=0), data, config, [monitor])
        runs[variant] = (history.column("val_accuracy"), layer_columns(history, "grad_norm")["fc1"])

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), dpi=DPI, layout="constrained")
    for (variant, (accuracy, grad)), colour in zip(runs.items(), PALETTE, strict=False):
        epochs = range(1, len(accuracy) + 1)
        left.plot(epochs, accuracy, "o-", ms=3, color=colour, label=variant)
        right.semilogy(epochs, grad, "o-", ms=3, color=colour, label=variant)
    left.set_xlabel("epoch")
    left.set_ylabel("validation accuracy")
    left.set_title("moons, 32-wide sigmoid layers, Adam lr 1e-3")
    left.legend(fontsize=8)
    right.set_xlabel("epoch")
    right.set_ylabel("fc1's gradient norm (mean over the epoch's steps)")
    right.set_title("the layer monitor's grad_norm/fc1")
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "deep_sigmoid.png"))

    result = DemoResult(figures=[out / "deep_sigmoid.png"])
    for variant, (accuracy, grad) in runs.items():
        result.add(
            f"validation accuracy, {variant}",
            accuracy[-1],
            f"after {config.epochs} epochs; fc1's mean gradient norm in the last epoch "
            f"{grad[-1]:.3g}",
        )
        result.add(
            f"best validation accuracy, {variant}",
            max(accuracy),
            f"at epoch {accuracy.index(max(accuracy)) + 1}",
        )
    return result


# ---------------------------------------------------------------- exercise 3.4.1: layer norm


def layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """Layer normalization of each row of x: standardize its features, then scale and shift.

    x is (batch, features); gamma and beta are (features,). For every row, subtract its mean
    over the features and divide by sqrt(var + eps), with var the row's *biased* variance
    (the mean of the squared deviations, dividing by the number of features); then multiply
    by gamma and add beta. Each row is normalized alone: no statistic crosses the batch.

    >>> layer_norm(torch.tensor([[1.0, 3.0]]), torch.ones(2), torch.zeros(2), eps=0.0)
    tensor([[-1.,  1.]])
    """
    mean = x.mean(dim=-1, keepdim=True)  # (batch, 1)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # (batch, 1), biased
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


def _norm_cases() -> list[Case]:
    def make(batch: int, features: int, seed: int, eps: float = 1e-5) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            x = 3 * torch.randn(batch, features, generator=g) + 2  # not standardized yet
            gamma = 1 + 0.5 * torch.randn(features, generator=g)
            beta = torch.randn(features, generator=g)
            return x, gamma, beta, eps

        return Case(f"x ({batch}, {features}), eps {eps:g}", args)

    return [make(4, 8, 0), make(16, 3, 1), make(1, 32, 2), make(8, 5, 3, eps=0.5)]


def _torch_layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, eps: float) -> Outputs:
    return {"result": F.layer_norm(x, (x.shape[-1],), gamma, beta, eps)}


LAYER_NORM = Exercise(
    id="3.4.1",
    title="layer normalization's forward",
    solution=layer_norm,
    cases=_norm_cases,
    oracle=_torch_layer_norm,
    oracle_name="torch.nn.functional.layer_norm over the last dimension",
    hints=(
        "statistics per row: mean and variance over dim=-1 with keepdim=True, so they "
        "broadcast back over the features",
        "mean = x.mean(-1, keepdim=True); var = ((x - mean) ** 2).mean(-1, keepdim=True); "
        "return (x - mean) / torch.sqrt(var + eps) * gamma + beta",
    ),
    mistakes=(
        Mistake(
            "unbiased variance",
            "use the biased variance (divide by the number of features): x.var() divides by "
            "n - 1 unless you pass unbiased=False",
            lambda x, g, b, eps: {
                "result": (x - x.mean(-1, keepdim=True))
                / torch.sqrt(x.var(-1, keepdim=True) + eps)
                * g
                + b
            },
        ),
        Mistake(
            "over the batch",
            "normalize each row over its features (dim=-1); statistics over the batch "
            "(dim=0) are batch norm's",
            lambda x, g, b, eps: {
                "result": (x - x.mean(0, keepdim=True))
                / torch.sqrt(x.var(0, keepdim=True, unbiased=False) + eps)
                * g
                + b
            },
        ),
        Mistake(
            "eps outside the root",
            "eps goes inside the square root: sqrt(var + eps)",
            lambda x, g, b, eps: {
                "result": (x - x.mean(-1, keepdim=True))
                / (x.var(-1, keepdim=True, unbiased=False).sqrt() + eps)
                * g
                + b
            },
        ),
    ),
    rtol=1e-4,
    atol=1e-5,
)

# ---------------------------------------------------------------- exercise 3.4.2: clipping


def clip_gradients(grads: list[Tensor], max_norm: float) -> tuple[Tensor, list[Tensor]]:
    """Gradient-norm clipping over all of a model's gradients together.

    grads holds one gradient tensor per parameter (any shapes). Their total norm is the
    square root of the sum of all their squared entries, as if they were one long vector.
    When it exceeds max_norm, scale every gradient by max_norm / (total + 1e-6) so the total
    becomes max_norm (the direction is kept); otherwise leave them as they are. Return
    (the total norm before clipping, the list of clipped gradients).

    >>> clip_gradients([torch.tensor([3.0]), torch.tensor([4.0])], max_norm=1.0)
    (tensor(5.), [tensor([0.6000]), tensor([0.8000])])
    """
    total = torch.sqrt(sum((g**2).sum() for g in grads))  # type: ignore[arg-type]
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return total, [g * scale for g in grads]


def _observe_clipping(fn: object, args: Args) -> Outputs:
    total, clipped = fn(*args)  # type: ignore[operator]
    return {
        "total norm": torch.as_tensor(total),
        "clipped gradients": torch.cat([torch.as_tensor(g).reshape(-1) for g in clipped]),
    }


def _clip_cases() -> list[Case]:
    def make(shapes: list[tuple[int, ...]], scale: float, max_norm: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            return [scale * torch.randn(s, generator=g) for s in shapes], max_norm

        return Case(f"{len(shapes)} tensors ~{scale:g}, max_norm {max_norm:g}", args)

    return [
        make([(4, 3), (4,), (1, 4), (1,)], 5.0, 1.0, 0),  # clipped
        make([(10,), (2, 5)], 0.01, 1.0, 1),  # already small: unchanged
        make([(8, 8)], 1.0, 2.0, 2),
        make([(3,), (3, 3), (2, 2, 2)], 2.0, 0.5, 3),
    ]


def _torch_clip(grads: list[Tensor], max_norm: float) -> Outputs:
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return {
        "total norm": total,
        "clipped gradients": torch.cat([p.grad.reshape(-1) for p in params]),  # type: ignore[union-attr]
    }


def _clip_variant(grads: list[Tensor], max_norm: float, *, way: str) -> Outputs:
    total = torch.sqrt(sum((g**2).sum() for g in grads))  # type: ignore[arg-type]
    if way == "always":
        clipped = [g * max_norm / (total + 1e-6) for g in grads]
    elif way == "each":
        clipped = [g * torch.clamp(max_norm / (g.norm() + 1e-6), max=1.0) for g in grads]
    else:  # "norm after": the right gradients, the total measured after clipping
        clipped = [g * torch.clamp(max_norm / (total + 1e-6), max=1.0) for g in grads]
        total = torch.sqrt(sum((g**2).sum() for g in clipped))  # type: ignore[arg-type]
    return {"total norm": total, "clipped gradients": torch.cat([g.reshape(-1) for g in clipped])}


CLIP_GRADIENTS = Exercise(
    id="3.4.2",
    title="gradient-norm clipping",
    solution=clip_gradients,
    cases=_clip_cases,
    oracle=_torch_clip,
    oracle_name="torch.nn.utils.clip_grad_norm_ on parameters holding these gradients",
    observe=_observe_clipping,
    outputs=("total norm", "clipped gradients"),
    hints=(
        "one norm over everything: the square root of the sum of every tensor's sum of "
        "squares; then one scale for all, at most 1",
        "total = torch.sqrt(sum((g**2).sum() for g in grads)); scale = "
        "torch.clamp(max_norm / (total + 1e-6), max=1.0); return total, [g * scale for g in "
        "grads]",
    ),
    mistakes=(
        Mistake(
            "always rescaled",
            "clip only when the total norm exceeds max_norm (scale at most 1): small "
            "gradients stay as they are",
            lambda grads, m: _clip_variant(grads, m, way="always"),
        ),
        Mistake(
            "each tensor alone",
            "clip by the total norm over all the gradients together, not each tensor by its "
            "own norm: one scale keeps the direction of the whole update",
            lambda grads, m: _clip_variant(grads, m, way="each"),
        ),
        Mistake(
            "norm after clipping",
            "return the total norm measured before clipping (what clip_grad_norm_ returns, "
            "and what tells you how often clipping acts)",
            lambda grads, m: _clip_variant(grads, m, way="norm after"),
        ),
    ),
    rtol=1e-4,
    atol=1e-6,
)

LESSON = Lesson(
    id="3.4",
    title="Deep networks",
    minutes=30,
    eli5=(
        "A deep network passes its error signal backwards through every layer, and each "
        "layer multiplies it by its own small factor. Twenty factors of a quarter make a "
        "number so small the first layers never hear that anything went wrong, so they never "
        "learn. Two tricks fix it. Normalization rescales each layer's values to a standard "
        "size so no factor is too small or too big. A residual connection gives the signal a "
        "bypass around each layer, a straight road along which it arrives undiminished."
    ),
    equations=(
        r"\frac{\partial L}{\partial h_{l-1}} = W_l^\top \Big( \sigma'(z_l) \odot "
        r"\frac{\partial L}{\partial h_l} \Big), \qquad \sigma'(z) = \sigma(z)(1 - \sigma(z)) "
        r"\le \tfrac14",
        r"\text{residual: } h_l = h_{l-1} + f(h_{l-1}) \ \Rightarrow\ "
        r"\frac{\partial h_l}{\partial h_{l-1}} = I + \frac{\partial f}{\partial h_{l-1}}",
        r"\text{layer norm: } y = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + "
        r"\beta, \quad \mu, \sigma^2 \text{ over the features of one row}",
        r"\text{clipping: } g \leftarrow g \cdot \min\Big(1, \frac{c}{\lVert g \rVert}\Big)",
    ),
    look_at=(
        "gradient_by_layer.png: plain sigmoid's gradient falls by many orders of magnitude "
        "from the output back to fc1; tanh and ReLU (with PyTorch's default init) fall too, "
        "less steeply",
        "gradient_by_layer.png: batch norm keeps all 21 layers' gradients within about two "
        "orders of magnitude of each other; residual connections keep sigmoid's gradient at "
        "the input within a few orders instead of more than ten; layer norm helps tanh and "
        "ReLU, not sigmoid",
        "deep_sigmoid.png: the plain deep sigmoid net (and the layer-normed one) stays at "
        "chance while fc1's gradient is near zero; batch norm and residual learn; batch "
        "norm's validation accuracy jumps from epoch to epoch (in evaluation it normalizes by "
        "running averages of the batch statistics, not by the batch's own)",
    ),
    demos=(
        Demo(
            "the gradient's norm layer by layer", gradient_norm_by_layer, ("gradient_by_layer.png",)
        ),
        Demo("training a 20-layer sigmoid net", training_deep_sigmoid, ("deep_sigmoid.png",)),
    ),
    exercises=(LAYER_NORM, CLIP_GRADIENTS),
)
