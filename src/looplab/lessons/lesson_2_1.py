"""Lesson 2.1: from linear to nonlinear: a hidden layer and an activation bend the boundary."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.style import DPI, PALETTE, save, wrapped
from looplab.run.fit import fit

# ---------------------------------------------------------------- demos


def moons_over_seeds(fast: bool = False, out: Path = Path("lessons/2.1")) -> DemoResult:
    """The course's moons: 200 points, a linear model against one hidden layer of 8 ReLU units,
    Adam lr 0.05, 1000 full-batch epochs, trained from 10 seeds; then seed 0, the course's,
    examined unit by unit (a unit *bends inside the data* when it is active on 5-95% of the
    training rows: its kink, the line where its input crosses 0, runs through the data)."""
    config = Config(
        dataset="moons",
        n=200,  # 160 training rows, 40 validation rows, standardized
        hidden=[8],
        optimizer="adam",
        lr=0.05,
        epochs=300 if fast else 1000,  # the course's 1000; seed 0 is stuck by epoch 100
        batch_size="full",
        device="cpu",
    )
    data = load_prepared(config)  # the same data for every run: only the weights' seed varies
    assert isinstance(data.train, Split) and isinstance(data.val, Split)
    X = data.train.X  # (160, 2)

    linear = build_model(ModelSpec(2, 1), seed=0)  # logistic regression: one fc1
    lin = fit(linear, data, config.replace(model="linear")).last

    widths, seeds = (8, 32), range(4 if fast else 10)
    runs: dict[int, list[dict[str, float]]] = {w: [] for w in widths}
    models = {}
    for width in widths:
        for seed in seeds if width == 8 else seeds[: len(seeds) // 2]:
            model = build_model(ModelSpec(2, 1, (width,)), seed=seed)
            history = fit(model, data, config.replace(hidden=[width]))
            with torch.no_grad():
                active = (
                    (model.linear(1)(X) > 0).float().mean(0)
                )  # (width,) share of rows each unit fires on
            runs[width].append(
                {
                    **history.last,
                    "loss at epoch 100": history[99]["train_loss"],
                    "bending": int(((active > 0.05) & (active < 0.95)).sum()),
                    "dead": int((active == 0).sum()),
                    "linear": int((active >= 0.95).sum()),
                }
            )
            models[width, seed] = model

    eight, seed0 = runs[8], runs[8][0]
    good = [r for r in eight if r["val_accuracy"] >= 0.95]
    best = next((s for s, r in enumerate(eight) if r["val_accuracy"] >= 0.95), 1)  # a good seed

    fig, axes = plt.subplots(1, 4, figsize=(16, 4), dpi=DPI, layout="constrained")
    ax = axes[0]
    for k, (width, colour) in enumerate(zip(widths, (PALETTE[0], PALETTE[2]), strict=True)):
        for j, split in enumerate(("train_accuracy", "val_accuracy")):
            values = [r[split] for r in runs[width]]
            ax.plot(
                [2 * k + j] * len(values),
                values,
                "o",
                color=colour,
                alpha=0.6,
                label=f"MLP {width} ReLU" if j == 0 else None,
            )
    ax.axhline(lin["val_accuracy"], color=PALETTE[3], ls="--", label="linear, validation")
    ax.axhline(lin["train_accuracy"], color=PALETTE[3], ls=":", label="linear, training")
    ax.set_xticks(range(4), ["8: train", "8: val", "32: train", "32: val"])
    lowest = min(r[k] for w in widths for r in runs[w] for k in ("train_accuracy", "val_accuracy"))
    ax.set_ylim(min(lowest, lin["train_accuracy"]) - 0.03, 1.01)
    ax.set_ylabel("accuracy (one dot per seed)")
    ax.set_title(wrapped(f"moons, 200 points, Adam 0.05, {config.epochs} full-batch epochs", 40))
    ax.legend(fontsize=7, loc="lower right")
    for ax, (title, model, kinks) in zip(
        axes[1:],
        (
            (f"linear: val {lin['val_accuracy']:.3g}", linear, False),
            (f"MLP 8, seed 0: val {seed0['val_accuracy']:.3g}", models[8, 0], True),
            (f"MLP 8, seed {best}: val {eight[best]['val_accuracy']:.3g}", models[8, best], True),
        ),
        strict=True,
    ):
        grid = torch.linspace(-2.5, 2.5, 101 if fast else 201)
        gx, gy = torch.meshgrid(grid, grid, indexing="xy")
        with torch.no_grad():  # P(class 1) on the grid, (points, points)
            p = torch.sigmoid(model(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1))).reshape(
                gx.shape
            )
        ax.contourf(gx, gy, p, levels=[0, 0.5, 1], colors=[PALETTE[5], PALETTE[1]], alpha=0.3)
        ax.contour(gx, gy, p, levels=[0.5], colors="black", linewidths=1)
        ax.scatter(*X.T, c=[PALETTE[0] if v == 0 else PALETTE[3] for v in data.train.y], s=6)
        if kinks:  # each hidden unit's kink: w1 x1 + w2 x2 + b = 0
            w, b = model.linear(1).weight.detach(), model.linear(1).bias.detach()
            for (w1, w2), b0 in zip(w.tolist(), b.tolist(), strict=True):
                if abs(w2) > 1e-6:
                    ax.plot(grid, -(w1 * grid + b0) / w2, color="grey", lw=0.7, ls="--")
        ax.set_xlim(-2.5, 2.5)
        ax.set_ylim(-2.5, 2.5)
        ax.set_xlabel("x1 (standardized)")
        ax.set_ylabel("x2 (standardized)")
        ax.set_title(title + (" (dashed: unit kinks)" if kinks else ""), fontsize=9)
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "moons_seeds.png"))

    below = seed0["val_accuracy"] < lin["val_accuracy"]
    points = round(abs(lin["val_accuracy"] - seed0["val_accuracy"]) * len(data.val))
    result = DemoResult(figures=[out / "moons_seeds.png"])
    result.add(
        "linear, validation accuracy",
        lin["val_accuracy"],
        f"a line through two moons, {len(data.val)} held-out points: under 90%",
    )
    result.add("linear, training accuracy", lin["train_accuracy"], "on the 160 training points")
    result.add(
        "MLP 8, median validation accuracy",
        statistics.median(r["val_accuracy"] for r in eight),
        f"over {len(eight)} seeds, from {min(r['val_accuracy'] for r in eight):.3g} to "
        f"{max(r['val_accuracy'] for r in eight):.3g}; {len(good)} of {len(eight)} reach 95%",
    )
    result.add(
        "MLP 8, median training accuracy",
        statistics.median(r["train_accuracy"] for r in eight),
        f"from {min(r['train_accuracy'] for r in eight):.3g} to "
        f"{max(r['train_accuracy'] for r in eight):.3g} over the same seeds",
    )
    result.add(
        "MLP 8 seed 0, validation accuracy",
        seed0["val_accuracy"],
        f"the course's seed: {'below' if below else 'not below'} the linear model's "
        f"{lin['val_accuracy']:.3g} ({points} of {len(data.val)} validation points)",
    )
    result.add(
        "MLP 8 seed 0, training accuracy",
        seed0["train_accuracy"],
        f"{'above' if seed0['train_accuracy'] > lin['train_accuracy'] else 'not above'} the "
        f"linear model's {lin['train_accuracy']:.3g}, far below the median seed's",
    )
    result.add(
        "MLP 8 seed 0, training loss",
        seed0["train_loss"],
        f"it was {seed0['loss at epoch 100']:.3g} at epoch 100: stuck since; the median seed "
        f"ends at {statistics.median(r['train_loss'] for r in eight):.3g}",
    )
    result.add(
        "MLP 8 seed 0, units bending inside the data",
        seed0["bending"],
        f"of 8; {int(seed0['dead'])} never fires (dead), {int(seed0['linear'])} fire on 95%+ "
        "of the rows (a line there): too few folds where the moons are",
    )
    result.add(
        "MLP 8, units bending inside the data, seeds that reach 95%",
        statistics.median(r["bending"] for r in good) if good else math.nan,
        f"the median over those {len(good)} seeds",
    )
    result.add(
        "MLP 32, lowest validation accuracy",
        min(r["val_accuracy"] for r in runs[32]),
        f"over {len(runs[32])} seeds (training: lowest "
        f"{min(r['train_accuracy'] for r in runs[32]):.3g}): more units, fewer bad starts",
    )
    return result


def xor_needs_a_hidden_layer(fast: bool = False, out: Path = Path("lessons/2.1")) -> DemoResult:
    """XOR: label 1 where x1 and x2 have the same sign. No line separates it; one hidden layer
    of ReLUs does, and on the four corners two units set by hand compute it exactly:
    h1 = relu(x1 + x2), h2 = relu(x1 + x2 - 1), out = h1 - 2 h2."""
    corners = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # (4, 2)
    hand = build_model(ModelSpec(2, 1, (2,)))
    with torch.no_grad():
        fc1, fc2 = hand.linear(1), hand.linear(2)
        fc1.weight.copy_(torch.tensor([[1.0, 1.0], [1.0, 1.0]]))  # (2 units, 2 inputs)
        fc1.bias.copy_(torch.tensor([0.0, -1.0]))
        fc2.weight.copy_(torch.tensor([[1.0, -2.0]]))  # (1 output, 2 units)
        fc2.bias.zero_()
        by_hand = hand(corners)[:, 0]  # (4,)
    truth = torch.tensor([0.0, 1.0, 1.0, 0.0])  # x1 XOR x2

    config = Config(
        dataset="xor",
        n=400,
        optimizer="adam",
        lr=0.05,
        epochs=150 if fast else 300,
        batch_size="full",
        device="cpu",
    )
    data = load_prepared(config)
    finals, models = {}, {}
    for name, hidden in (("linear", ()), ("one hidden layer of 8", (8,))):
        model = build_model(ModelSpec(2, 1, hidden), seed=0)
        kind = "mlp" if hidden else "linear"
        finals[name] = fit(model, data, config.replace(model=kind, hidden=[8])).last
        models[name] = model

    assert isinstance(data.train, Split)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), dpi=DPI, layout="constrained")
    for ax, (name, model) in zip(axes, models.items(), strict=True):
        grid = torch.linspace(-2.2, 2.2, 81 if fast else 161)
        gx, gy = torch.meshgrid(grid, grid, indexing="xy")
        with torch.no_grad():
            p = torch.sigmoid(model(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)))
        ax.contourf(
            gx, gy, p.reshape(gx.shape), levels=[0, 0.5, 1], colors=[PALETTE[5], PALETTE[1]],
            alpha=0.3,
        )  # fmt: skip
        ax.scatter(
            *data.train.X.T, c=[PALETTE[0] if v == 0 else PALETTE[3] for v in data.train.y], s=5
        )
        ax.set_xlabel("x1 (standardized)")
        ax.set_ylabel("x2 (standardized)")
        ax.set_title(f"xor, {name}: val accuracy {finals[name]['val_accuracy']:.3g}", fontsize=9)
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "xor.png"))

    result = DemoResult(figures=[out / "xor.png"])
    result.add(
        "max |hand-set network - XOR| on the 4 corners",
        float((by_hand - truth).abs().max()),
        "two ReLU units with weights set by hand compute XOR exactly",
    )
    result.add(
        "linear, validation accuracy",
        finals["linear"]["val_accuracy"],
        "the best any line can do on XOR in a square is 2/3 (cut off one corner)",
    )
    result.add(
        "one hidden layer, validation accuracy",
        finals["one hidden layer of 8"]["val_accuracy"],
        f"the same loop and {config.epochs} epochs with 8 ReLU units in between",
    )
    return result


def activations_and_derivatives(fast: bool = False, out: Path = Path("lessons/2.1")) -> DemoResult:
    """ReLU, sigmoid and tanh with their derivatives: the closed forms drawn, and checked
    against autograd at 1201 points of [-6, 6]."""
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64, requires_grad=True)  # (1201,)
    closed_forms: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor, Tensor], Tensor]]]
    closed_forms = {  # f(x) and f'(x) written from f's own value
        "relu": (torch.relu, lambda x, f: (x > 0).double()),
        "sigmoid": (torch.sigmoid, lambda x, f: f * (1 - f)),
        "tanh": (torch.tanh, lambda x, f: 1 - f**2),
    }
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=DPI, layout="constrained")
    result = DemoResult()
    for ax, (name, (fn, derivative)), colour in zip(
        axes, closed_forms.items(), PALETTE, strict=False
    ):
        f = fn(x)
        (autograd,) = torch.autograd.grad(f.sum(), x)  # d f(x_i) / d x_i, one point at a time
        by_hand = derivative(x.detach(), f.detach())
        ax.plot(x.detach(), f.detach(), color=colour, label=f"{name}(x)")
        ax.plot(x.detach(), by_hand, color=colour, ls="--", label=f"{name}'(x)")
        ax.set_xlabel("x")
        ax.set_title(name)
        ax.legend(fontsize=8)
        result.add(
            f"max |{name}' closed form - autograd|",
            float((by_hand - autograd).abs().max()),
            f"the derivative drawn is autograd's to float64 rounding; its largest value is "
            f"{float(by_hand.max()):.3g}",
        )
        if name != "relu":
            result.add(
                f"{name}'(6)",
                float(by_hand[-1]),
                "at |x| = 6 the curve is flat: a saturated unit passes almost no gradient back",
            )
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "activations.png"))
    result.figures.append(out / "activations.png")
    return result


# ---------------------------------------------------------------- exercise 2.1.1: derivatives


def activation_derivatives(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The derivatives of ReLU, sigmoid and tanh at every entry of x, by their closed forms.

    x has any shape; return (relu'(x), sigmoid'(x), tanh'(x)), each shaped like x. relu'(x)
    is 1 where x > 0 and 0 elsewhere (PyTorch's choice at exactly 0); sigmoid' = s (1 - s)
    with s = sigmoid(x); tanh' = 1 - tanh(x) ** 2. No autograd.

    >>> activation_derivatives(torch.tensor([-1.0, 0.0, 2.0]))
    (tensor([0., 0., 1.]), tensor([0.1966, 0.2500, 0.1050]), tensor([0.4200, 1.0000, 0.0707]))
    """
    s, t = torch.sigmoid(x), torch.tanh(x)
    return (x > 0).to(x.dtype), s * (1 - s), 1 - t * t


DERIVATIVE_NAMES = ("relu'", "sigmoid'", "tanh'")


def _activation_cases() -> list[Case]:
    def make(shape: tuple[int, ...], scale: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            x = scale * torch.randn(shape, generator=g)
            x.reshape(-1)[::3] = 0.0  # exact zeros, where ReLU's derivative is a choice
            return (x,)

        return Case(f"x {shape}, scale {scale:g}, with zeros", args)

    return [make((7,), 1.0, 0), make((3, 4), 3.0, 1), make((2, 3, 5), 10.0, 2)]


def _autograd_derivatives(x: Tensor) -> Outputs:
    out = {}
    for name, fn in zip(DERIVATIVE_NAMES, (torch.relu, torch.sigmoid, torch.tanh), strict=True):
        v = x.clone().requires_grad_()
        (out[name],) = torch.autograd.grad(fn(v).sum(), v)  # elementwise: the sum's gradient
    return out


def _replaced(name: str, value: Tensor, x: Tensor) -> Outputs:
    """The oracle's outputs with one derivative replaced by a wrong one."""
    return {**_autograd_derivatives(x), name: value}


ACTIVATION_DERIVATIVES = Exercise(
    id="2.1.1",
    title="the derivatives of ReLU, sigmoid and tanh",
    solution=activation_derivatives,
    cases=_activation_cases,
    oracle=_autograd_derivatives,
    oracle_name="autograd (torch.autograd.grad) of torch.relu, torch.sigmoid, torch.tanh",
    outputs=DERIVATIVE_NAMES,
    hints=(
        "each derivative is written with the function's own output: compute s = sigmoid(x) "
        "and t = tanh(x) first",
        "relu' = (x > 0) as a float tensor; sigmoid' = s * (1 - s); tanh' = 1 - t * t",
    ),
    mistakes=(
        Mistake(
            "relu' at 0",
            "ReLU's derivative at exactly 0 is 0 in PyTorch: use x > 0, not x >= 0",
            lambda x: _replaced("relu'", (x >= 0).float(), x),
        ),
        Mistake(
            "sigmoid' = s",
            "sigmoid' is s * (1 - s), not s itself: you left out the (1 - s)",
            lambda x: _replaced("sigmoid'", torch.sigmoid(x), x),
        ),
        Mistake(
            "tanh' without the square",
            "tanh' is 1 - tanh(x) ** 2: the tanh is squared",
            lambda x: _replaced("tanh'", 1 - torch.tanh(x), x),
        ),
        Mistake(
            "from x instead of the output",
            "the closed forms use the function's output: s = sigmoid(x) then s * (1 - s), "
            "t = tanh(x) then 1 - t ** 2; you used x itself",
            lambda x: {
                **_autograd_derivatives(x),
                "sigmoid'": x * (1 - x),
                "tanh'": 1 - x * x,
            },
        ),
    ),
)

# ---------------------------------------------------------------- exercise 2.1.2: collapse


def collapse_linear(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> tuple[Tensor, Tensor]:
    """Two linear layers with no activation between them are one linear layer: find it.

    The layers use nn.Linear's layout: W1 is (hidden, in), b1 (hidden,), W2 (out, hidden),
    b2 (out,), and the stack maps x (in,) to W2 (W1 x + b1) + b2. Return (W, b) with W of
    shape (out, in) and b (out,) such that W x + b is the same map for every x.

    >>> collapse_linear(torch.eye(2), torch.ones(2), torch.tensor([[1.0, 2.0]]), torch.zeros(1))
    (tensor([[1., 2.]]), tensor([3.]))
    """
    return W2 @ W1, W2 @ b1 + b2


def _layer_cases() -> list[Case]:
    def make(d: int, h: int, k: int, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            return tuple(torch.randn(shape, generator=g) for shape in ((h, d), (h,), (k, h), (k,)))

        return Case(f"{d} -> {h} -> {k}", args)

    return [make(3, 5, 2, 0), make(4, 4, 4, 1), make(1, 8, 3, 2), make(6, 2, 6, 3)]


def _jacobian(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Outputs:
    """The stack's Jacobian (autograd) is W; its value at x = 0 is b."""

    def stack(x: Tensor) -> Tensor:  # (in,) -> (out,)
        return torch.nn.functional.linear(torch.nn.functional.linear(x, W1, b1), W2, b2)

    zero = torch.zeros(W1.shape[1])
    W = torch.autograd.functional.jacobian(stack, zero)  # type: ignore[no-untyped-call]
    return {"W": W, "b": stack(zero)}


COLLAPSE_LINEAR = Exercise(
    id="2.1.2",
    title="two linear layers are one",
    solution=collapse_linear,
    cases=_layer_cases,
    oracle=_jacobian,
    oracle_name="the two-layer map's Jacobian by autograd (W) and its value at x = 0 (b)",
    outputs=("W", "b"),
    hints=(
        "expand W2 (W1 x + b1) + b2 and collect what multiplies x and what does not",
        "W = W2 @ W1 (out, hidden) @ (hidden, in); b = W2 @ b1 + b2",
    ),
    mistakes=(
        Mistake(
            "wrong order",
            "the first layer acts first, so it is on the right: W = W2 @ W1, not W1 @ W2",
            lambda W1, b1, W2, b2: {"W": W1 @ W2, "b": W2 @ b1 + b2},
            error=r"cannot be multiplied",
        ),
        Mistake(
            "first bias forgotten",
            "the first layer's bias passes through the second layer too: b = W2 @ b1 + b2",
            lambda W1, b1, W2, b2: {"W": W2 @ W1, "b": b2},
        ),
        Mistake(
            "biases added",
            "b1 is in the hidden space: map it with W2 before adding, b = W2 @ b1 + b2",
            lambda W1, b1, W2, b2: {"W": W2 @ W1, "b": b1 + b2},
            error=r"must match the size",
        ),
    ),
)

LESSON = Lesson(
    id="2.1",
    title="From linear to nonlinear",
    minutes=20,
    eli5=(
        "A linear model can only draw a straight line between the classes. Stacking more "
        "linear layers does not help: a line of lines is still a line. Put a bend after each "
        "unit of the first layer (an activation: ReLU cuts off what is below zero, sigmoid "
        "and tanh squash) and the layers can bend the boundary around the data. Each ReLU "
        "unit adds one fold; where a start leaves too few folds where the data is, the "
        "network stays nearly a line."
    ),
    equations=(
        r"h = \sigma(W_1 x + b_1), \qquad \hat y = W_2 h + b_2",
        r"W_2 (W_1 x + b_1) + b_2 = (W_2 W_1)\, x + (W_2 b_1 + b_2) "
        r"\quad \text{(no } \sigma \text{: still linear)}",
        r"\mathrm{relu}(x) = \max(x, 0),\ \mathrm{relu}'(x) = [x > 0]; \qquad "
        r"\sigma(x) = \frac{1}{1 + e^{-x}},\ \sigma' = \sigma (1 - \sigma); \qquad "
        r"\tanh' = 1 - \tanh^2",
    ),
    look_at=(
        "moons_seeds.png, left: the linear model sits under 90%; most seeds of the 8-unit MLP "
        "reach 95% or more, but not all: seed 0, the course's, stays near the linear model",
        "moons_seeds.png, third panel: seed 0's dashed unit kinks mostly miss the data, so its "
        "boundary has only a couple of folds where the moons are; the best seed's kinks cross "
        "the data",
        "with 32 units every seed learns the moons: more units, more chances that enough of "
        "them start where the data is",
        "xor.png: the line gets about 2/3 at best; one hidden layer separates the four quadrants",
        "activations.png: sigmoid' peaks at 0.25 and tanh' at 1; both vanish at |x| = 6",
    ),
    demos=(
        Demo("linear vs MLP on moons, over seeds", moons_over_seeds, ("moons_seeds.png",)),
        Demo("XOR needs a hidden layer", xor_needs_a_hidden_layer, ("xor.png",)),
        Demo(
            "activations and their derivatives", activations_and_derivatives, ("activations.png",)
        ),
    ),
    exercises=(ACTIVATION_DERIVATIVES, COLLAPSE_LINEAR),
    notes=(
        "The course's own numbers for the moons, measured: with 200 points, 8 ReLU units, "
        "Adam 0.05 and 1000 full-batch epochs, seed 0 ends *below* the linear model on the "
        "40 validation points. The first demo runs it and shows why: it is one start of "
        "several, and its units sit badly. Look at the spread over seeds, not at one seed.",
    ),
)
