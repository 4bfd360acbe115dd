"""Lesson 3.6: monitoring and debugging: each of looplab's diagnoses provoked on purpose, its
note read, the fix it names applied, and the run checked again."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from looplab.config import Config
from looplab.data.prepared import PreparedData, load_prepared
from looplab.data.split import Split
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.loop.history import History
from looplab.models.init import init_model
from looplab.models.mlp import build_model
from looplab.plots.style import DPI, PALETTE, save
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.diagnoses import (
    DEAD_RELU,
    DIVERGING,
    LOSS_SCALE,
    OVERFITTING,
    PLATEAU,
    UNDERFITTING,
    UNSTABLE,
    VANISHING,
    Diagnoses,
    diagnoses_in,
)
from looplab.watch.monitors import LayerMonitor

# ---------------------------------------------------------------- demos


def provoke_and_fix(fast: bool = False, out: Path = Path("lessons/3.6")) -> DemoResult:
    """Small runs (300 rows unless said) broken on purpose, each watched by looplab's
    diagnoses (``Diagnoses``, with the ``LayerMonitor`` that ``--monitor`` adds); then the
    same run with the change the note advises. Every note shown is the run's own words.
    (The runs are small: fast mode runs them all too.)"""

    def unscaled(config: Config) -> PreparedData:
        """A linear signal in three features, times 1e4 plus 1e5: a target in the 100,000s."""
        g = torch.Generator().manual_seed(0)
        X = torch.randn(200, 3, generator=g)  # (200, 3)
        y = 1e4 * (X @ torch.tensor([1.0, -0.5, 0.25]) + 0.3 * torch.randn(200, generator=g))
        y = y + 1e5  # (200,)
        return PreparedData(Split(X[:160], y[:160]), Split(X[160:], y[160:]), "regression",
                            name="unscaled", feature_names=["a", "b", "c"])  # fmt: skip

    def standardized(config: Config) -> PreparedData:
        """The same rows with the target standardized by the training rows' mean and std."""
        data = unscaled(config)
        assert isinstance(data.train, Split) and isinstance(data.val, Split)
        mean, std = data.train.y.mean(), data.train.y.std()
        return PreparedData(Split(data.train.X, (data.train.y - mean) / std),
                            Split(data.val.X, (data.val.y - mean) / std), "regression",
                            name="standardized", feature_names=data.feature_names)  # fmt: skip

    def dead_at_birth(model: nn.Module) -> None:
        """All but one first-layer unit get a bias of -50: they never fire."""
        with torch.no_grad():
            model.linear(1).bias[1:] = -50.0  # type: ignore[operator]

    deep = dict(hidden=[16] * 20, activation="sigmoid", n=200, epochs=3)
    # kind -> (the broken run's settings, the fixed run's settings, what was changed)
    cases: dict[str, tuple[dict[str, object], dict[str, object], str]] = {
        DIVERGING: (dict(optimizer="sgd", lr=50.0, epochs=30),
                    dict(optimizer="sgd", lr=0.5, epochs=30), "lr 50 -> 0.5"),
        PLATEAU: (dict(optimizer="sgd", lr=1e-9, epochs=30),
                  dict(optimizer="sgd", lr=0.5, epochs=30), "lr 1e-9 -> 0.5"),
        LOSS_SCALE: (dict(data=unscaled, epochs=30), dict(data=standardized, epochs=30),
                     "the target standardized"),
        VANISHING: (deep, {**deep, "norm": "batch"}, "batch norm in every layer"),
        UNSTABLE: (dict(optimizer="sgd", lr=5.0, epochs=30),
                   dict(optimizer="sgd", lr=0.5, epochs=30), "lr 5 -> 0.5"),
        UNDERFITTING: (dict(dataset="spiral", model="linear", epochs=40),
                       dict(dataset="spiral", epochs=40), "a linear model -> the 16-16 MLP"),
        OVERFITTING: (dict(n=60, noise=0.4, val_fraction=0.5, hidden=[64, 64],
                           batch_size="full", epochs=120),
                      dict(n=60, noise=0.4, val_fraction=0.5, hidden=[64, 64],
                           batch_size="full", epochs=120, weight_decay=0.1),
                      "weight decay 0.1"),
        DEAD_RELU: (dict(epochs=10, build=dead_at_birth), dict(epochs=10),
                    "PyTorch's default biases"),
    }  # fmt: skip

    def run(settings: dict[str, object]) -> tuple[list[str], History]:
        """One monitored run: "kind|line" of each diagnosis it made, and its history."""
        fields = {k: v for k, v in settings.items() if k not in ("data", "build")}
        config = Config(**{"n": 300, "device": "cpu", **fields}).validate()  # type: ignore[arg-type]
        make = settings.get("data")
        data = make(config) if callable(make) else load_prepared(config)
        model = build_model(model_spec(config, data), seed=0)
        init_model(model, config.init, config.init_scale, seed=0)
        change = settings.get("build")
        if callable(change):
            change(model)
        monitor = LayerMonitor(histogram_epochs=[])
        history = fit(model, data, config, [monitor, Diagnoses(monitor)])
        notes = [f"{note.kind}|{note}" for note in diagnoses_in(history)]
        return notes, history

    fig, axes = plt.subplots(2, 4, figsize=(16, 7), dpi=DPI, layout="constrained")
    result = DemoResult(figures=[out / "provoked_and_fixed.png"])
    for kind, (broken, fixed, change) in cases.items():
        said, broken_run = run(broken)
        after, fixed_run = run(fixed)
        ax = axes.flat[len(result.numbers) // 2]
        column = "val_loss" if kind == OVERFITTING else "train_loss"  # what the rule reads
        for history, colour, label in ((broken_run, PALETTE[3], "provoked"),
                                       (fixed_run, PALETTE[2], change)):  # fmt: skip
            finite = [v for v in history.column(column) if math.isfinite(v)]
            ax.semilogy(range(1, len(finite) + 1), finite, color=colour, label=label)
        ax.set_title(kind)
        ax.set_xlabel("epoch")
        ax.set_ylabel(column.replace("val_", "validation ").replace("train_", "training "))
        ax.legend(fontsize=8)
        line = next((s.split("|", 1)[1] for s in said if s.split("|")[0] == kind), "")
        result.add(
            f"{kind}: said",
            float(bool(line)),
            (f"the run says: {line}" if line else f"no {kind} note; it said: {said}"),
        )
        still = [s.split("|", 1)[1] for s in after]
        result.add(
            f"{kind}: notes after the fix",
            len(still),
            f"with {change}: " + ("; ".join(still) if still else "the run says nothing"),
        )
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "provoked_and_fixed.png"))
    return result


# ---------------------------------------------------------------- exercise 3.6.1: one epoch


def train_epoch(
    model: nn.Module, optimizer: torch.optim.Optimizer, batches: list[tuple[Tensor, Tensor]]
) -> Tensor:
    """One training epoch: for each (x, y) batch in order, the mean squared error of
    model(x) against y, then the gradients of that loss alone, then one optimizer step.

    x is (batch, in), y is (batch, out). Gradients add up in .grad across backward calls,
    so clear them before each backward. Return the losses of the epoch's batches (measured
    before each step) as a tensor of shape (len(batches),), without autograd history.

    >>> model = torch.nn.Linear(1, 1, bias=False)
    >>> _ = torch.nn.init.ones_(model.weight)
    >>> sgd = torch.optim.SGD(model.parameters(), lr=0.25)
    >>> one = torch.ones(1, 1)
    >>> train_epoch(model, sgd, [(one, torch.zeros(1, 1)), (one, torch.zeros(1, 1))])
    tensor([1.0000, 0.2500])
    """
    losses = []
    for x, y in batches:
        loss = F.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return torch.stack(losses)


def _epoch_cases() -> list[Case]:
    def make(optimizer: str, widths: tuple[int, ...], n_batches: int, seed: int) -> Case:
        def args() -> Args:
            torch.manual_seed(seed)  # the model's default init
            layers: list[nn.Module] = []
            for a, b in itertools.pairwise(widths):
                layers += [nn.Linear(a, b), nn.Tanh()]
            model = nn.Sequential(*layers[:-1])  # no activation after the last layer
            g = torch.Generator().manual_seed(seed)
            batches = [
                (torch.randn(8, widths[0], generator=g), torch.randn(8, widths[-1], generator=g))
                for _ in range(n_batches)
            ]
            opt = (torch.optim.SGD(model.parameters(), lr=0.1) if optimizer == "sgd"
                   else torch.optim.Adam(model.parameters(), lr=0.01))  # fmt: skip
            return model, opt, batches

        return Case(f"{optimizer}, widths {widths}, {n_batches} batches", args)

    return [make("sgd", (3, 1), 5, 0), make("sgd", (4, 8, 2), 6, 1), make("adam", (2, 5, 1), 4, 2)]


def _observe_epoch(fn: object, args: Args) -> Outputs:
    model = args[0]
    losses = fn(*args)  # type: ignore[operator]
    weights = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return {"losses": torch.as_tensor(losses).detach(), "weights after": weights}


def _epoch_by(order: str) -> object:
    """The reference loop (``order`` "zbs": zero_grad, backward, step, per batch) or a known
    wrong one: no zero_grad ("bs"), a step before the backward ("zsb")."""

    def run(model: nn.Module, opt: torch.optim.Optimizer, batches: list[tuple[Tensor, Tensor]]
            ) -> Outputs:  # fmt: skip
        losses = []
        for x, y in batches:
            loss = ((model(x) - y) ** 2).mean()
            for action in order:
                if action == "z":
                    opt.zero_grad()
                elif action == "b":
                    loss.backward()
                else:
                    opt.step()
            losses.append(loss.item())
        weights = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        return {"losses": torch.tensor(losses), "weights after": weights}

    return run


TRAIN_EPOCH = Exercise(
    id="3.6.1",
    title="one training epoch",
    solution=train_epoch,
    cases=_epoch_cases,
    oracle=_epoch_by("zbs"),  # type: ignore[arg-type]
    oracle_name="the same epoch by a reference loop (zero_grad, backward, step per batch)",
    observe=_observe_epoch,
    outputs=("losses", "weights after"),
    imports=(
        "import torch",
        "import torch.nn.functional as F",
        "from torch import Tensor, nn",
    ),
    hints=(
        "per batch: forward and loss, clear the old gradients, backward, step; keep the "
        "loss's value (detached) for the list",
        "for x, y in batches: loss = F.mse_loss(model(x), y); optimizer.zero_grad(); "
        "loss.backward(); optimizer.step(); losses.append(loss.detach()); then torch.stack",
    ),
    mistakes=(
        Mistake(
            "no zero_grad",
            "call optimizer.zero_grad() before each backward: without it .grad keeps the sum "
            "of every earlier batch's gradients",
            _epoch_by("bs"),  # type: ignore[arg-type]
        ),
        Mistake(
            "step before backward",
            "backward before step: optimizer.step() uses the gradients in .grad, which the "
            "backward of this batch fills",
            _epoch_by("zsb"),  # type: ignore[arg-type]
        ),
    ),
    rtol=1e-5,
    atol=1e-6,
)

LESSON = Lesson(
    id="3.6",
    title="Monitoring and debugging",
    minutes=25,
    eli5=(
        "When training goes wrong, the loss curve is the symptom, not the cause. A loss that "
        "shoots up means the steps are too big; one that never moves means they are too "
        "small; a loss in the billions on a regression means the target was never scaled; a "
        "deep net whose first layers get no gradient has a vanishing signal. looplab watches "
        "each run for these patterns and says, once, what it saw and what to try. Here each "
        "one is caused on purpose, read, and fixed, so you know them when they find you."
    ),
    equations=(
        r"\text{skill} = 1 - L / L_0, \quad L_0 = \text{the loss of a constant guess}",
        r"\text{diverging: } \operatorname{median}(L_{t-2..t}) > 100 \max(L_1, L_0)",
        r"\text{vanishing: } \lVert \nabla_{W_1} L \rVert < 10^{-3} \lVert \nabla_{W_L} L "
        r"\rVert",
    ),
    notes=(
        "The exact rules (thresholds, windows, which diagnosis blocks which) are in the "
        "docstring of `looplab.watch.diagnoses`; each is tested on labelled runs that must "
        "fire it and on healthy runs that must stay quiet (`tests/watch/`).",
    ),
    look_at=(
        "every broken run gets the note of its own kind, in the run's own words, with the "
        "numbers it saw",
        "the fixed runs say nothing: each change removes its cause, and no other diagnosis "
        "fires on them (a diagnosis on a healthy run would be a bug)",
        "provoked_and_fixed.png: the loss curves behind the notes: a runaway, a flat line, a "
        "loss in the billions, a stuck deep net, a bouncing loss, a high floor, a validation "
        "loss that turns up, a net with one live unit",
    ),
    demos=(
        Demo("each diagnosis, provoked and fixed", provoke_and_fix, ("provoked_and_fixed.png",)),
    ),
    exercises=(TRAIN_EPOCH,),
)
