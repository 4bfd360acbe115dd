"""Lesson 3.3: weight initialization: equal weights never break symmetry, the activations' scale
through 20 layers under each scheme, and the sine network of lesson 2.3 fixed by its init."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.experiments.sine_width import run_sine_lesson
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.loop.events import Callback, StopTraining
from looplab.loop.state import LoopState
from looplab.models.init import init_model
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.style import DPI, PALETTE, save
from looplab.run.fit import fit

# ---------------------------------------------------------------- demos


def symmetry(fast: bool = False, out: Path = Path("lessons/3.3")) -> DemoResult:
    """The default job's 2-16-16-1 ReLU MLP (moons, Adam lr 0.01) trained from three starts:
    PyTorch's default (random), every weight 0.5 (``constant``), every weight 0 (``zeros``).
    Units that start equal get equal gradients, so they stay equal for ever: the constant net
    is a net one unit wide in disguise, and the zero net's hidden layers never move."""
    config = Config(epochs=10 if fast else 40, device="cpu")
    data = load_prepared(config)
    assert isinstance(data.val, Split)

    def distinct_units(weight: Tensor) -> int:
        """How many different rows (units) a weight matrix (out, in) has, to 1e-6."""
        kept: list[Tensor] = []
        for row in weight:
            if all(float((row - k).abs().max()) > 1e-6 for k in kept):
                kept.append(row)
        return len(kept)

    runs = {}  # scheme -> (distinct units per hidden layer, validation accuracy, fc1 |W| max)
    for scheme in ("default", "constant", "zeros"):
        model = build_model(ModelSpec(2, 1, (16, 16)), seed=0)
        init_model(model, scheme, scale=0.5)  # in place
        history = fit(model, data, config)
        with torch.no_grad():
            units = [distinct_units(model.linear(i).weight) for i in (1, 2)]
            largest = float(model.linear(1).weight.abs().max())
        runs[scheme] = (units, history.last["val_accuracy"], largest)

    majority = float(max(data.val.y.mean(), 1 - data.val.y.mean()))
    result = DemoResult()
    for scheme, (units, accuracy, largest) in runs.items():
        result.add(
            f"distinct units in hidden layer 1, {scheme}",
            units[0],
            f"of 16 after {config.epochs} epochs; hidden layer 2 has {units[1]}",
        )
        result.add(
            f"validation accuracy, {scheme}",
            accuracy,
            f"largest |fc1 weight| after training: {largest:.3g}"
            + (
                f"; always guessing the commoner class scores {majority:.1%}"
                if largest == 0
                else ""
            ),
        )
    return result


def variance_by_depth(fast: bool = False, out: Path = Path("lessons/3.3")) -> DemoResult:
    r"""A batch of N(0, 1) inputs through 20 square linear layers, each followed by tanh or
    ReLU, under four schemes: all zeros, N(0, 1) weights, Xavier and Kaiming (zero biases).
    The root mean square of each layer's output is measured. Each layer multiplies the
    pre-activation's variance by $n_{in} \mathrm{Var}(W)$: N(0, 1) makes that the width,
    Xavier 1, Kaiming 2 (to make up for ReLU's lost half)."""
    width, depth, batch = (128, 20, 256) if fast else (256, 20, 1024)
    schemes = ("zeros", "normal", "xavier_normal", "kaiming_normal")
    activations = {"tanh": torch.tanh, "relu": torch.relu}
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, width, generator=g, dtype=torch.float64)  # (batch, width)
    rms: dict[tuple[str, str], list[float]] = {}  # (scheme, activation) -> per layer
    with torch.no_grad():
        for scheme in schemes:
            for name, act in activations.items():
                net = torch.nn.Sequential(*(torch.nn.Linear(width, width) for _ in range(depth)))
                init_model(net, scheme, scale=1.0, seed=0)  # in place
                net.double()  # float64: with N(0, 1) weights the signal passes 1e18
                h, values = x, []
                for layer in net:
                    h = act(layer(h))  # (batch, width)
                    values.append(float(h.pow(2).mean().sqrt()))
                rms[scheme, name] = values

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), dpi=DPI, layout="constrained")
    for ax, name in zip(axes, activations, strict=True):
        for scheme, colour in zip(schemes, PALETTE, strict=False):
            if max(rms[scheme, name]) == 0:  # zeros: nothing to draw on a log axis
                ax.plot([], [], color=colour, label=f"{scheme}: exactly 0 at every layer")
            else:
                ax.semilogy(range(1, depth + 1), rms[scheme, name], "o-", ms=3, color=colour,
                            label=scheme)  # fmt: skip
        ax.set_xlabel("layer")
        ax.set_ylabel("root mean square of the layer's output")
        ax.set_title(f"{depth} layers of {width} units, {name}, N(0, 1) inputs")
        ax.legend(fontsize=8)
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "variance_by_depth.png"))

    result = DemoResult(figures=[out / "variance_by_depth.png"])
    for scheme in schemes:
        for name in activations:
            values = rms[scheme, name]
            result.add(
                f"rms after layer {depth}, {scheme}, {name}",
                values[-1],
                f"after layer 1: {values[0]:.3g}",
            )
    result.add(
        "relu, normal: growth per layer",
        (rms["normal", "relu"][-1] / rms["normal", "relu"][0]) ** (1 / (depth - 1)),
        f"measured; the closed form sqrt(width / 2) = {math.sqrt(width / 2):.3g}",
    )
    result.add(
        "relu, xavier_normal: growth per layer",
        (rms["xavier_normal", "relu"][-1] / rms["xavier_normal", "relu"][0]) ** (1 / (depth - 1)),
        f"measured; the closed form sqrt(1 / 2) = {math.sqrt(0.5):.3g}: ReLU halves the "
        "second moment and Xavier does not make up for it",
    )
    return result


def sine_fixed_by_init(fast: bool = False, out: Path = Path("lessons/3.3")) -> DemoResult:
    """Lesson 2.3's 1-50-1 ReLU network on sin(x) (full-batch gradient descent, lr 1e-2)
    diverged from ``torch.randn`` weights. The same run from several seeds under each scheme:
    only the starting weights change. Kaiming is made for deep ReLU stacks: on a layer with
    one input it draws std sqrt(2), more than randn's 1."""
    epochs = 200 if fast else 1000
    seeds = range(2 if fast else 5)

    class StopWhenNonFinite(Callback):
        """Ends a diverged run at its first non-finite loss."""

        def on_epoch_end(self, state: LoopState, epoch: int, row: dict[str, float]) -> None:
            if not math.isfinite(row["train_loss"]):
                raise StopTraining

    schemes = ("randn", "default", "xavier_normal", "kaiming_normal")
    finals: dict[str, list[float]] = {}
    curves: dict[str, list[float]] = {}
    for scheme in schemes:
        finals[scheme] = []
        for seed in seeds:
            history = run_sine_lesson(
                50, seed, init=scheme, epochs=epochs, callbacks=[StopWhenNonFinite()]
            )
            losses = history.column("train_loss")
            finals[scheme].append(losses[-1] if len(losses) == epochs else math.inf)
            if seed == 0:
                curves[scheme] = losses

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=DPI, layout="constrained")
    for scheme, colour in zip(schemes, PALETTE, strict=False):
        finite = [v for v in curves[scheme] if math.isfinite(v)]
        ax.semilogy(range(1, len(finite) + 1), finite, color=colour, label=scheme)
    ax.set_xlabel("epoch (one full-batch step)")
    ax.set_ylabel("training loss (MSE)")
    ax.set_ylim(top=100)  # a diverging run leaves through the top within a few epochs
    ax.set_title("1-50-1 ReLU on sin(x), lr 1e-2, seed 0, by init")
    ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "sine_by_init.png"))

    result = DemoResult(figures=[out / "sine_by_init.png"])
    for scheme in schemes:
        converged = [v for v in finals[scheme] if math.isfinite(v)]
        result.add(
            f"runs that diverged, {scheme}",
            len(finals[scheme]) - len(converged),
            f"of {len(finals[scheme])} seeds"
            + (
                f"; the others end at median loss {statistics.median(converged):.3g}"
                if converged
                else ""
            ),
        )
    return result


# ---------------------------------------------------------------- exercise 3.3.1: Kaiming


def kaiming_normal(shape: tuple[int, int], nonlinearity: str, generator: torch.Generator) -> Tensor:
    """A Linear layer's weight (out, in) drawn by Kaiming (He) normal initialization.

    The weights are N(0, std^2) with std = gain / sqrt(fan_in), fan_in = in = shape[1], and
    gain = sqrt(2) for "relu", 5/3 for "tanh", 1 for "linear" and "sigmoid" (so the layer's
    output keeps the variance of its input through that activation). Draw them with
    torch.empty(shape).normal_(0, std, generator=generator), so a check can repeat the draw.

    >>> w = kaiming_normal((300, 200), "relu", torch.Generator().manual_seed(0))
    >>> round(float(w.std()) * 200**0.5, 2)  # close to sqrt(2) = 1.41
    1.41
    """
    gain = {"relu": math.sqrt(2), "tanh": 5 / 3, "linear": 1.0, "sigmoid": 1.0}[nonlinearity]
    std = gain / math.sqrt(shape[1])
    return torch.empty(shape).normal_(0, std, generator=generator)


def _init_cases(nonlinearities: tuple[str, ...]) -> list[Case]:
    def make(shape: tuple[int, int], nonlinearity: str, seed: int) -> Case:
        def args() -> Args:
            return shape, nonlinearity, torch.Generator().manual_seed(seed)

        return Case(f"{shape}, {nonlinearity}", args)

    shapes = [(64, 16), (10, 300), (128, 128), (3, 50)]
    return [
        make(shape, nonlinearities[i % len(nonlinearities)], i) for i, shape in enumerate(shapes)
    ]


def _torch_kaiming(shape: tuple[int, int], nonlinearity: str, g: torch.Generator) -> Outputs:
    w = torch.nn.init.kaiming_normal_(
        torch.empty(shape),
        mode="fan_in",
        nonlinearity=nonlinearity,  # type: ignore[arg-type]
        generator=g,
    )
    return {"result": w}


def _kaiming_variant(shape: tuple[int, int], nonlinearity: str, g: torch.Generator, *,
                     std: float) -> Outputs:  # fmt: skip
    return {"result": torch.empty(shape).normal_(0, std, generator=g)}


def _gain(nonlinearity: str) -> float:
    return torch.nn.init.calculate_gain(nonlinearity)  # type: ignore[arg-type]


KAIMING_NORMAL = Exercise(
    id="3.3.1",
    title="Kaiming normal initialization",
    solution=kaiming_normal,
    cases=lambda: _init_cases(("relu", "tanh", "linear", "sigmoid")),
    oracle=_torch_kaiming,
    oracle_name="torch.nn.init.kaiming_normal_(mode='fan_in') from the same generator",
    imports=("import math", "", "import torch", "from torch import Tensor"),
    hints=(
        "std = gain / sqrt(fan_in), where fan_in is the number of inputs, shape[1] of an "
        "(out, in) weight",
        "gain = {'relu': math.sqrt(2), 'tanh': 5 / 3, 'linear': 1.0, 'sigmoid': 1.0}"
        "[nonlinearity]; return torch.empty(shape).normal_(0, gain / math.sqrt(shape[1]), "
        "generator=generator)",
    ),
    mistakes=(
        Mistake(
            "fan_out",
            "fan_in is the number of inputs, shape[1] of an (out, in) weight, not shape[0]",
            lambda s, nl, g: _kaiming_variant(s, nl, g, std=_gain(nl) / math.sqrt(s[0])),
        ),
        Mistake(
            "variance as std",
            "2 / fan_in is the variance: the std is its square root, gain / sqrt(fan_in)",
            lambda s, nl, g: _kaiming_variant(s, nl, g, std=_gain(nl) ** 2 / s[1]),
        ),
        Mistake(
            "no gain",
            "multiply by the activation's gain (sqrt(2) for relu, 5/3 for tanh): 1 / sqrt("
            "fan_in) alone is right only for a linear layer",
            lambda s, nl, g: _kaiming_variant(s, nl, g, std=1 / math.sqrt(s[1])),
        ),
    ),
    rtol=1e-5,
    atol=1e-7,
)

# ---------------------------------------------------------------- exercise 3.3.2: Xavier


def xavier_uniform(shape: tuple[int, int], generator: torch.Generator) -> Tensor:
    """A Linear layer's weight (out, in) drawn by Xavier (Glorot) uniform initialization.

    The weights are uniform on [-a, a] with a = sqrt(6 / (fan_in + fan_out)), fan_in =
    shape[1] and fan_out = shape[0]: then Var(W) = a^2 / 3 = 2 / (fan_in + fan_out), which
    keeps the variance steady both forward and backward through linear or tanh layers. Draw
    them with torch.empty(shape).uniform_(-a, a, generator=generator).

    >>> w = xavier_uniform((100, 200), torch.Generator().manual_seed(0))
    >>> round(float(w.abs().max()), 2)  # close to a = sqrt(6 / 300) = 0.14
    0.14
    """
    a = math.sqrt(6 / (shape[0] + shape[1]))
    return torch.empty(shape).uniform_(-a, a, generator=generator)


def _torch_xavier(shape: tuple[int, int], g: torch.Generator) -> Outputs:
    return {"result": torch.nn.init.xavier_uniform_(torch.empty(shape), generator=g)}


def _uniform_variant(shape: tuple[int, int], g: torch.Generator, *, a: float) -> Outputs:
    return {"result": torch.empty(shape).uniform_(-a, a, generator=g)}


def _xavier_cases() -> list[Case]:
    def make(shape: tuple[int, int], seed: int) -> Case:
        return Case(f"{shape}", lambda: (shape, torch.Generator().manual_seed(seed)))

    return [make((64, 16), 0), make((10, 300), 1), make((128, 128), 2), make((1, 5), 3)]


XAVIER_UNIFORM = Exercise(
    id="3.3.2",
    title="Xavier uniform initialization",
    solution=xavier_uniform,
    cases=_xavier_cases,
    oracle=_torch_xavier,
    oracle_name="torch.nn.init.xavier_uniform_ from the same generator",
    imports=("import math", "", "import torch", "from torch import Tensor"),
    hints=(
        "the bound a comes from the variance you want: U(-a, a) has variance a^2 / 3, and "
        "Xavier wants 2 / (fan_in + fan_out)",
        "a = math.sqrt(6 / (shape[0] + shape[1])); "
        "return torch.empty(shape).uniform_(-a, a, generator=generator)",
    ),
    mistakes=(
        Mistake(
            "std as bound",
            "sqrt(2 / (fan_in + fan_out)) is the std; the uniform's bound is sqrt(3) times "
            "that, sqrt(6 / (fan_in + fan_out))",
            lambda s, g: _uniform_variant(s, g, a=math.sqrt(2 / (s[0] + s[1]))),
        ),
        Mistake(
            "fan_in only",
            "Xavier averages both fans: sqrt(6 / (fan_in + fan_out)); sqrt(6 / fan_in) is "
            "Kaiming's uniform bound",
            lambda s, g: _uniform_variant(s, g, a=math.sqrt(6 / s[1])),
        ),
    ),
    rtol=1e-5,
    atol=1e-7,
)

LESSON = Lesson(
    id="3.3",
    title="Weight initialization",
    minutes=20,
    eli5=(
        "Before training, every weight needs a first value. If they are all the same, every "
        "unit in a layer computes the same thing and gets the same nudge, so they stay "
        "copies of each other for ever: a wide net that is really one unit wide. So we draw "
        "them at random, but the size matters: too big and the signal grows at every layer "
        "until it overflows, too small and it fades to nothing. Xavier and Kaiming pick the "
        "size from the layer's width so the signal keeps its strength, layer after layer."
    ),
    equations=(
        r"\mathrm{Var}(z_l) = n_{in}\, \mathrm{Var}(W_l)\, \mathbb{E}[h_{l-1}^2], \qquad "
        r"\mathbb{E}[\mathrm{relu}(z)^2] = \tfrac12 \mathrm{Var}(z)",
        r"\text{Xavier: } \mathrm{Var}(W) = \frac{2}{n_{in} + n_{out}}, \quad "
        r"U(\pm a),\ a = \sqrt{\frac{6}{n_{in} + n_{out}}}",
        r"\text{Kaiming: } \mathrm{Var}(W) = \frac{g^2}{n_{in}}, \quad "
        r"g_{\mathrm{relu}} = \sqrt 2,\ g_{\tanh} = \tfrac53",
    ),
    look_at=(
        "the constant start ends with 1 distinct unit in each hidden layer, and the zero "
        "start does not move its hidden layers at all: ReLU's gradient at 0 is 0",
        "variance_by_depth.png: with N(0, 1) weights ReLU's signal grows about sqrt(width/2) "
        "a layer and tanh saturates near 1; Xavier with ReLU fades by about 1/sqrt(2) a "
        "layer; Kaiming with ReLU stays level, up to a wobble of a factor of about 2 that "
        "comes from the random draw of a finite width",
        "variance_by_depth.png, left: with tanh, Kaiming's larger weights (looplab's "
        "kaiming_normal uses the gain sqrt(2) for every activation) hold the signal level, "
        "while Xavier's let it fade slowly",
        "sine_by_init.png: lesson 2.3's diverging run converges from PyTorch's default or "
        "Xavier weights, the same data and lr; Kaiming's sqrt(2) / sqrt(fan_in) is larger "
        "than randn's 1 on the one-input layer, and still diverges",
    ),
    demos=(
        Demo("equal weights stay equal", symmetry),
        Demo("the signal's scale through 20 layers", variance_by_depth, ("variance_by_depth.png",)),
        Demo("lesson 2.3's sine network, by init", sine_fixed_by_init, ("sine_by_init.png",)),
    ),
    exercises=(KAIMING_NORMAL, XAVIER_UNIFORM),
)
