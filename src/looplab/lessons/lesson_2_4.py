"""Lesson 2.4: the role of activations: a seeded sweep across them, saturation in depth, and
ReLU units that die."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.loop.events import Callback
from looplab.loop.state import LoopState
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.style import DPI, PALETTE, save
from looplab.run.fit import fit
from looplab.watch.monitors import LayerMonitor

# ---------------------------------------------------------------- demos


def activation_sweep(fast: bool = False, out: Path = Path("lessons/2.4")) -> DemoResult:
    """The same 2-32-32-3 MLP on the three-arm spiral with each activation, from 3 seeds
    (Adam lr 0.01, full batch): training loss, validation accuracy, and what the layer monitor
    measures (ReLU's dead units, the gradient's norm)."""
    config = Config(
        dataset="spiral",
        n=300,
        hidden=[32, 32],
        optimizer="adam",
        lr=0.01,
        epochs=100 if fast else 300,
        batch_size="full",
        device="cpu",
    )
    data = load_prepared(config)  # 240 training rows, 60 validation rows
    activations = ("relu", "leaky_relu", "gelu", "tanh", "sigmoid", "identity")
    seeds = range(2 if fast else 3)
    runs: dict[str, list[dict[str, list[float]]]] = {}
    for activation in activations:
        runs[activation] = []
        for seed in seeds:
            monitor = LayerMonitor(histogram_epochs=[])  # per-layer statistics every epoch
            model = build_model(ModelSpec(2, 3, (32, 32), activation), seed=seed)
            history = fit(model, data, config.replace(activation=activation), [monitor])
            runs[activation].append({c: history.column(c) for c in history.columns()})

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=DPI, layout="constrained")
    for activation, colour in zip(activations, PALETTE, strict=False):
        curves = np.array([r["train_loss"] for r in runs[activation]])  # (seeds, epochs)
        epochs = np.arange(1, curves.shape[1] + 1)
        left.plot(epochs, curves.mean(0), color=colour, label=activation)
        left.fill_between(epochs, curves.min(0), curves.max(0), color=colour, alpha=0.2)
        accuracies = [r["val_accuracy"][-1] for r in runs[activation]]
        right.plot([activation] * len(accuracies), accuracies, "o", color=colour, alpha=0.7)
    left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("training loss (mean; band: min to max over seeds)")
    left.set_title(f"spiral, 2-32-32-3, Adam 0.01, full batch, {len(seeds)} seeds")
    left.legend(fontsize=8)
    right.set_ylabel("validation accuracy (one dot per seed)")
    right.set_title("after the last epoch")
    right.tick_params(axis="x", labelrotation=30)
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "activation_sweep.png"))

    result = DemoResult(figures=[out / "activation_sweep.png"])
    for activation in activations:
        finals = [r["train_loss"][-1] for r in runs[activation]]
        accuracy = statistics.fmean(r["val_accuracy"][-1] for r in runs[activation])
        result.add(
            f"final loss, {activation}",
            statistics.fmean(finals),
            f"mean of {len(finals)} seeds (from {min(finals):.3g} to {max(finals):.3g}); "
            f"validation accuracy {accuracy:.3g}",
        )
    result.add(
        "validation accuracy, identity",
        statistics.fmean(r["val_accuracy"][-1] for r in runs["identity"]),
        "no bend: the network is one linear map, a linear classifier of the spiral",
    )
    dead = [r["dead_frac/act2"][-1] for r in runs["relu"]]
    result.add(
        "ReLU dead units, layer 2, last epoch",
        statistics.fmean(dead),
        "share of act2's units that never fired in the last epoch (the layer monitor's "
        "dead_frac), mean over seeds: some units die even in a healthy run",
    )
    first = {a: statistics.fmean(r["grad_norm/fc1"][0] for r in runs[a]) for a in activations}
    result.add(
        "fc1 gradient norm, sigmoid / relu, epoch 1",
        first["sigmoid"] / first["relu"],
        "sigmoid's derivative is at most 1/4: less gradient reaches the first layer",
    )
    return result


def saturation_in_depth(fast: bool = False, out: Path = Path("lessons/2.4")) -> DemoResult:
    """Six hidden layers of 32 with PyTorch's default initialization: the norm of each
    layer's weight gradient at the start (one backward pass on the training rows), then plain
    SGD (lr 0.1) and Adam (lr 0.01) from there."""
    config = Config(
        dataset="spiral",
        n=300,
        hidden=[32] * 6,
        optimizer="sgd",
        lr=0.1,
        epochs=100 if fast else 300,
        batch_size="full",
        device="cpu",
    )
    data = load_prepared(config)
    assert isinstance(data.train, Split)
    norms, finals = {}, {}
    for activation in ("relu", "tanh", "sigmoid"):
        model = build_model(ModelSpec(2, 3, (32,) * 6, activation), seed=0)
        F.cross_entropy(model(data.train.X), data.train.y).backward()
        norms[activation] = [float(model.linear(i).weight.grad.norm()) for i in range(1, 8)]  # type: ignore[union-attr]
        for optimizer, lr in (("sgd", 0.1), ("adam", 0.01)):
            model = build_model(ModelSpec(2, 3, (32,) * 6, activation), seed=0)
            changes = {"activation": activation, "optimizer": optimizer, "lr": lr}
            finals[activation, optimizer] = fit(model, data, config.replace(**changes)).last

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=DPI, layout="constrained")
    for (activation, values), colour in zip(norms.items(), PALETTE, strict=False):
        ax.semilogy(range(1, 8), values, "o-", color=colour, label=activation)
    ax.set_xlabel("layer (fc1 is the first, next to the input)")
    ax.set_ylabel("||dL/dW|| at the start")
    ax.set_title("spiral, 6 hidden layers of 32, PyTorch's default init")
    ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "saturation.png"))

    result = DemoResult(figures=[out / "saturation.png"])
    chance = math.log(3)  # the loss of predicting 1/3 for every class
    for activation, values in norms.items():
        per_layer = (values[-1] / values[0]) ** (1 / 6)  # geometric mean shrink per layer
        result.add(
            f"gradient norm fc7 / fc1, {activation}",
            values[-1] / values[0],
            f"the gradient shrinks {per_layer:.3g}x per layer on its way back",
        )
    for activation in ("relu", "tanh", "sigmoid"):
        loss = finals[activation, "sgd"]["train_loss"]
        result.add(
            f"final loss with SGD, {activation}",
            loss,
            f"after {config.epochs} epochs; ln 3 = {chance:.4f} is the loss of guessing"
            + (": no progress" if abs(loss - chance) < 0.01 else ""),
        )
    result.add(
        "final loss with Adam, sigmoid",
        finals["sigmoid", "adam"]["train_loss"],
        "Adam divides each weight's step by its own gradient's size, so tiny gradients still "
        "move it: the same deep sigmoid net learns",
    )
    return result


def dead_relus(fast: bool = False, out: Path = Path("lessons/2.4")) -> DemoResult:
    """A bad start on purpose: every first-layer bias shifted by -3, so (almost) no unit of
    the first layer fires on any input. A ReLU that never fires passes no gradient back and
    stays dead; leaky ReLU's slope of 0.01 below zero lets its units come back."""
    config = Config(
        dataset="spiral",
        n=300,
        hidden=[32, 32],
        optimizer="adam",
        lr=0.01,
        epochs=100 if fast else 300,
        batch_size="full",
        device="cpu",
    )
    data = load_prepared(config)
    assert isinstance(data.train, Split)
    X = data.train.X  # (240, 2)

    class DeadCount(Callback):
        """Share of fc1's units whose input is <= 0 on every training row, per epoch."""

        def __init__(self) -> None:
            self.dead: list[float] = []

        def on_epoch_end(self, state: LoopState, epoch: int, row: dict[str, float]) -> None:
            with torch.no_grad():
                pre = fc1(X)  # (rows, 32)
            self.dead.append(float(((pre > 0).sum(0) == 0).float().mean()))

    runs = {}
    for activation in ("relu", "leaky_relu"):
        model = build_model(ModelSpec(2, 3, (32, 32), activation), seed=0)
        with torch.no_grad():
            model.linear(1).bias.sub_(3.0)  # inputs are standardized: x @ W.T rarely beats 3
            start = float(((model.linear(1)(X) > 0).sum(0) == 0).float().mean())
        fc1 = model.linear(1)  # the layer DeadCount watches
        counter = DeadCount()
        history = fit(model, data, config.replace(activation=activation), [counter])
        runs[activation] = (start, counter.dead, history)

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=DPI, layout="constrained")
    for (activation, (start, dead, history)), colour in zip(
        runs.items(), (PALETTE[3], PALETTE[0]), strict=True
    ):
        epochs = range(len(dead) + 1)
        left.plot(epochs, [start, *dead], color=colour, label=activation)
        right.plot(range(1, len(history) + 1), history.column("train_loss"), color=colour,
                   label=activation)  # fmt: skip
    right.axhline(math.log(3), color=PALETTE[7], ls=":", label="ln 3: guessing")
    left.set_xlabel("epoch")
    left.set_ylabel("share of fc1's units that never fire")
    left.set_title("first-layer biases shifted by -3 at the start")
    right.set_xlabel("epoch")
    right.set_ylabel("training loss")
    right.set_yscale("log")
    right.set_title("spiral, 2-32-32-3, Adam 0.01")
    for ax in (left, right):
        ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "dead_relus.png"))

    result = DemoResult(figures=[out / "dead_relus.png"])
    for activation, (start, dead, history) in runs.items():
        result.add(
            f"dead at the start, {activation}",
            start,
            "share of fc1's units with input <= 0 on every training row",
        )
        result.add(
            f"dead at the end, {activation}",
            dead[-1],
            "no gradient ever reached them" if dead[-1] >= start else "they came back to life",
        )
        result.add(
            f"final loss, {activation}",
            history.last["train_loss"],
            f"ln 3 = {math.log(3):.4f} is the loss of guessing every class at 1/3",
        )
    return result


# ---------------------------------------------------------------- exercise 2.4.1: dead units


def dead_fraction(pre: Tensor) -> Tensor:
    """The share of a ReLU layer's units that are dead on a batch: never positive on any row.

    pre is the layer's input (before the ReLU), shape (batch, units). A unit is dead when
    pre[:, j] <= 0 for every row: its ReLU outputs 0 for all of them and passes no gradient
    back. Return the fraction of dead units as a scalar float tensor.

    >>> dead_fraction(torch.tensor([[1.0, -1.0, 0.0], [-2.0, -3.0, 0.0]]))
    tensor(0.6667)
    """
    return (pre <= 0).all(dim=0).float().mean()


def _dead_cases() -> list[Case]:
    def make(rows: int, units: int, shift: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            pre = torch.randn(rows, units, generator=g) + shift  # (rows, units)
            pre[:, 0] = 0.0  # exactly 0 everywhere: dead (relu(0) = 0, no gradient)
            return (pre,)

        return Case(f"batch {rows}, {units} units, inputs shifted by {shift:g}", args)

    return [make(8, 10, -1.5, 0), make(64, 32, -2.5, 1), make(3, 5, 0.0, 2), make(1, 6, 0.5, 3)]


def _count_dead(pre: Tensor, rule: str = "all") -> Outputs:
    """Unit by unit in Python: ``all`` rows <= 0 (dead); ``any`` and ``entries`` are mistakes."""
    columns = pre.T.tolist()  # one list of values per unit
    if rule == "entries":
        share = sum(v <= 0 for col in columns for v in col) / pre.numel()
    elif rule == "any":
        share = sum(any(v <= 0 for v in col) for col in columns) / len(columns)
    else:
        share = sum(all(v <= 0 for v in col) for col in columns) / len(columns)
    return {"result": torch.tensor(share)}


DEAD_FRACTION = Exercise(
    id="2.4.1",
    title="the share of dead ReLU units",
    solution=dead_fraction,
    cases=_dead_cases,
    oracle=_count_dead,
    oracle_name="a count, unit by unit, in plain Python",
    hints=(
        "a unit is a column of pre; it is dead when the whole column is <= 0",
        "(pre <= 0).all(dim=0) marks the dead units; .float().mean() is their share",
    ),
    mistakes=(
        Mistake(
            "entries, not units",
            "count units (columns), not entries: a unit is dead only if it is <= 0 on every "
            "row, so reduce over dim 0 with .all(dim=0) first",
            lambda pre: _count_dead(pre, "entries"),
        ),
        Mistake(
            "any row",
            "a unit that fires on even one row is alive: use .all(dim=0), not .any(dim=0)",
            lambda pre: _count_dead(pre, "any"),
        ),
        Mistake(
            "positive counted as dead",
            "a dead unit's input is <= 0 (so relu gives 0): you counted the units that fire",
            lambda pre: {"result": 1 - _count_dead(pre)["result"]},
        ),
    ),
)

# ---------------------------------------------------------------- exercise 2.4.2: leaky ReLU


def leaky_relu_with_grad(x: Tensor, slope: float) -> tuple[Tensor, Tensor]:
    """Leaky ReLU and its derivative: x where x > 0, slope * x elsewhere.

    x has any shape; slope is in (0, 1). Return (leaky_relu(x), its derivative at x), both
    shaped like x: the derivative is 1 where x > 0 and slope elsewhere (at 0 too, as in
    PyTorch). Below zero the gradient is small but never 0: a leaky unit cannot die.

    >>> leaky_relu_with_grad(torch.tensor([-2.0, 0.0, 3.0]), 0.1)
    (tensor([-0.2000,  0.0000,  3.0000]), tensor([0.1000, 0.1000, 1.0000]))
    """
    positive = x > 0
    return torch.where(positive, x, slope * x), torch.where(positive, 1.0, slope)


def _leaky_cases() -> list[Case]:
    def make(shape: tuple[int, ...], slope: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            x = 3 * torch.randn(shape, generator=g)
            x.reshape(-1)[::5] = 0.0
            return x, slope

        return Case(f"x {shape}, slope {slope:g}", args)

    return [make((7,), 0.01, 0), make((4, 6), 0.2, 1), make((2, 3, 4), 0.5, 2)]


def _autograd_leaky(x: Tensor, slope: float) -> Outputs:
    v = x.clone().requires_grad_()
    y = F.leaky_relu(v, slope)
    (grad,) = torch.autograd.grad(y.sum(), v)
    return {"leaky_relu(x)": y.detach(), "derivative": grad}


LEAKY_RELU = Exercise(
    id="2.4.2",
    title="leaky ReLU and its derivative",
    solution=leaky_relu_with_grad,
    cases=_leaky_cases,
    oracle=_autograd_leaky,
    oracle_name="torch.nn.functional.leaky_relu and autograd",
    outputs=("leaky_relu(x)", "derivative"),
    imports=("import torch", "from torch import Tensor"),
    hints=(
        "one mask, x > 0, decides both: the value (x or slope * x) and the slope (1 or slope)",
        "torch.where(x > 0, x, slope * x) and torch.where(x > 0, 1.0, slope)",
    ),
    mistakes=(
        Mistake(
            "zero derivative below 0",
            "below zero the derivative is the slope, not 0: that is what keeps a leaky unit alive",
            lambda x, s: {**_autograd_leaky(x, s), "derivative": (x > 0).float()},
        ),
        Mistake(
            "slope on the wrong side",
            "the slope applies where x <= 0; positive inputs pass unchanged",
            lambda x, s: {
                "leaky_relu(x)": torch.where(x > 0, s * x, x),
                "derivative": torch.where(x > 0, s, 1.0),
            },
        ),
    ),
)

LESSON = Lesson(
    id="2.4",
    title="The role of activations",
    minutes=20,
    eli5=(
        "The activation is the bend between layers. Without one (identity) the network is a "
        "straight line, however deep. ReLU, leaky ReLU, GELU and tanh all bend well; sigmoid "
        "bends too, but its slope is at most 1/4 and almost flat away from 0, so the signal "
        "for the early layers gets smaller at every layer it passes (saturation). ReLU has "
        "its own failure: a unit whose input is below zero for every example outputs 0, gets "
        "no gradient, and never wakes up (a dead unit). Leaky ReLU keeps a small slope there."
    ),
    equations=(
        r"\frac{\partial L}{\partial h_{k-1}} = W_k^\top \Big(\sigma'(z_k) \odot "
        r"\frac{\partial L}{\partial h_k}\Big): \text{ one factor } \sigma'(z_k) "
        r"\text{ per layer}",
        r"\sigma'(z) \le \tfrac14, \qquad \tanh'(z) \le 1, \qquad "
        r"\mathrm{relu}'(z) \in \{0, 1\}, \qquad \mathrm{leaky}'(z) \in \{0.01, 1\}",
        r"\text{unit } j \text{ dead} \iff z_{ij} \le 0 \ \ \forall i \ \Rightarrow\ "
        r"\frac{\partial L}{\partial W_{1,j}} = 0",
    ),
    look_at=(
        "activation_sweep.png: identity stays a line (the worst loss by far); sigmoid "
        "learns, but slower than the rest; relu, leaky_relu, gelu and tanh end close together",
        "saturation.png: through six sigmoid layers the first layer's gradient is five orders "
        "of magnitude smaller than the last's; with relu and tanh it is about one order",
        "with plain SGD the deep sigmoid net stays at ln 3 (guessing); Adam rescales each "
        "weight's step and gets it to learn",
        "dead_relus.png: the shifted ReLU units stay dead and the net guesses; leaky ReLU's "
        "come back and it learns",
    ),
    demos=(
        Demo("a seeded sweep across activations", activation_sweep, ("activation_sweep.png",)),
        Demo("saturation through six layers", saturation_in_depth, ("saturation.png",)),
        Demo("ReLU units that die, leaky ones that do not", dead_relus, ("dead_relus.png",)),
    ),
    exercises=(DEAD_FRACTION, LEAKY_RELU),
)
