"""Lesson 3.1: optimizers beyond SGD: momentum, RMSProp and Adam written as update rules, equal
to ``torch.optim`` step by step, raced on one narrow valley and on the default job."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.loop.protocols import Optimizer
from looplab.manual.optim import SGD, Adam, AdamW, Momentum, Nesterov, RMSProp
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.style import DPI, PALETTE, save
from looplab.run.fit import fit
from looplab.run.threads import torch_threads

# ---------------------------------------------------------------- demos


def scratch_equals_torch(fast: bool = False, out: Path = Path("lessons/3.1")) -> DemoResult:
    """Each update rule of ``looplab.manual.optim`` (a dozen lines of tensor arithmetic) and its
    ``torch.optim`` twin train two copies of the same 2-16-16-1 MLP on the moons, batch by
    batch, in float64; after every step the two sets of weights are compared."""
    steps = 30 if fast else 200
    data = load_prepared(Config(dataset="moons"))
    assert isinstance(data.train, Split)
    X, y = data.train.X.double(), data.train.y.double()  # (rows, 2), (rows,)
    Make = Callable[[list[Tensor]], Optimizer]  # parameters -> an optimizer of them
    pairs: dict[str, tuple[Make, Make]] = {  # name -> (from scratch, torch.optim)
        "momentum": (lambda p: Momentum(p, 0.05, 0.9), lambda p: torch.optim.SGD(p, 0.05, 0.9)),
        "nesterov": (
            lambda p: Nesterov(p, 0.05, 0.9),
            lambda p: torch.optim.SGD(p, 0.05, 0.9, nesterov=True),
        ),
        "rmsprop": (lambda p: RMSProp(p, 0.01), lambda p: torch.optim.RMSprop(p, 0.01)),
        "adam": (lambda p: Adam(p, 0.01), lambda p: torch.optim.Adam(p, 0.01)),
        "adamw": (
            lambda p: AdamW(p, 0.01, weight_decay=0.1),
            lambda p: torch.optim.AdamW(p, 0.01, weight_decay=0.1),
        ),
    }
    gaps = {}  # name -> largest |scratch weight - torch weight| over all steps
    for name, (scratch, reference) in pairs.items():  # one thread: tiny steps, a busy machine
        models = [build_model(ModelSpec(2, 1, (16, 16)), seed=0).double() for _ in range(2)]
        optimizers = [
            scratch(list(models[0].parameters())),
            reference(list(models[1].parameters())),
        ]
        gap = 0.0
        with torch_threads(1):
            for step in range(steps):
                rows = torch.arange(step * 32, step * 32 + 32) % len(X)  # a batch of 32
                for model, optimizer in zip(models, optimizers, strict=True):
                    logits = model(X[rows])[:, 0]  # (32,)
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[rows])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                pairs_of_weights = zip(models[0].parameters(), models[1].parameters(), strict=True)
                gap = max([gap, *((a - b).abs().max().item() for a, b in pairs_of_weights)])
        gaps[name] = gap

    result = DemoResult()
    for name, gap in gaps.items():
        result.add(
            f"max |scratch - torch.optim|, {name}",
            gap,
            f"largest weight difference over {steps} steps in float64: rounding, not a "
            "different rule",
        )
    return result


def race_in_a_valley(fast: bool = False, out: Path = Path("lessons/3.1")) -> DemoResult:
    r"""The four rules race on one 2-D landscape, a narrow valley
    $L(x, y) = (x^2 + 100 y^2) / 2$ from (-4, 1): 100 times steeper across than along. Plain
    gradient descent must keep lr below 2/100 or it bounces out across the valley, so it
    crawls along it; momentum builds speed along the floor; RMSProp and Adam divide each
    coordinate's step by its own gradient scale."""
    steps = 200
    curvature = torch.tensor([1.0, 100.0], dtype=torch.float64)  # (2,): the Hessian's diagonal
    racers: dict[
        str, tuple[Callable[[list[Tensor]], Optimizer], str]
    ] = {  # name -> (factory, label)
        "SGD": (lambda p: SGD(p, 0.019), "lr 0.019"),
        "momentum": (lambda p: Momentum(p, 0.019, 0.9), "lr 0.019, mu 0.9"),
        "RMSProp": (lambda p: RMSProp(p, 0.03), "lr 0.03"),
        "Adam": (lambda p: Adam(p, 0.1), "lr 0.1"),
    }
    paths: dict[str, np.ndarray] = {}  # name -> (steps + 1, 2): the points visited
    losses: dict[str, list[float]] = {}  # name -> steps + 1 losses, from the start
    for name, (make, _) in racers.items():  # tiny steps: one thread
        w = torch.tensor([-4.0, 1.0], dtype=torch.float64, requires_grad=True)  # (2,)
        optimizer = make([w])
        points, curve = [w.detach().clone()], []
        with torch_threads(1):
            for _ in range(steps):
                loss = 0.5 * (curvature * w**2).sum()
                curve.append(loss.item())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                points.append(w.detach().clone())
            curve.append((0.5 * (curvature * w**2).sum()).item())  # after the last step
        paths[name], losses[name] = torch.stack(points).numpy(), curve

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), dpi=DPI, layout="constrained")
    gx, gy = np.meshgrid(np.linspace(-4.5, 1.0, 200), np.linspace(-1.3, 1.3, 200))
    left.contour(gx, gy, 0.5 * (gx**2 + 100 * gy**2), levels=np.geomspace(0.01, 100, 12),
                 colors=PALETTE[7], alpha=0.3, linewidths=0.8)  # fmt: skip
    for (name, path), colour in zip(paths.items(), PALETTE, strict=False):
        left.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=1, color=colour,
                  label=f"{name} ({racers[name][1]})")  # fmt: skip
        right.semilogy(np.maximum(losses[name], 1e-30), color=colour, label=name)
    left.plot([0], [0], "*", ms=12, color=PALETTE[7], label="the minimum")
    left.set_xlabel("x (gentle: curvature 1)")
    left.set_ylabel("y (steep: curvature 100)")
    left.set_title(f"L = (x^2 + 100 y^2) / 2 from (-4, 1), {steps} steps")
    left.legend(fontsize=8)
    right.set_xlabel("step")
    right.set_ylabel("loss")
    right.set_title("the same race, loss per step")
    right.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "valley_race.png"))

    def first_below(curve: list[float], level: float) -> float:
        return next((float(t) for t, v in enumerate(curve) if v < level), math.inf)

    result = DemoResult(figures=[out / "valley_race.png"])
    for name, (_, settings) in racers.items():
        reached = first_below(losses[name], 1e-3)
        result.add(
            f"loss after {steps} steps, {name}",
            losses[name][-1] if math.isfinite(losses[name][-1]) else math.nan,
            f"{settings}; below 1e-3 "
            + (f"after {reached:.0f} steps" if math.isfinite(reached) else "never in the race"),
        )
    result.add(
        "SGD's x after the race",
        paths["SGD"][-1, 0],
        f"each step multiplies x by 1 - lr = {1 - 0.019:g}: "
        f"(-4) * {1 - 0.019:g}^{steps} = {-4 * (1 - 0.019) ** steps:.4g}; y, multiplied by "
        f"1 - 100 lr = {1 - 100 * 0.019:.2g}, is long gone",
    )
    return result


def optimizers_on_the_default_job(
    fast: bool = False, out: Path = Path("lessons/3.1")
) -> DemoResult:
    """Every optimizer on the default job (the moons, a 2-16-16-1 ReLU MLP, batches of 32) at
    the same lr 0.01, from the same seeds: the same lr means different steps. Momentum's steady
    step is lr / (1 - mu), ten times SGD's; Adam's is about lr per weight, whatever the
    gradient's scale."""
    config = Config(epochs=15 if fast else 60, device="cpu", lr=0.01)
    data = load_prepared(config)
    names = ("sgd", "momentum", "nesterov", "rmsprop", "adam")
    seeds = range(1 if fast else 3)
    curves: dict[str, list[list[float]]] = {}  # name -> per seed, validation loss per epoch
    accuracy: dict[str, list[float]] = {}
    for name in names:
        curves[name], accuracy[name] = [], []
        for seed in seeds:
            model = build_model(ModelSpec(2, 1, (16, 16)), seed=seed)
            history = fit(model, data, config.replace(optimizer=name, seed=seed))
            curves[name].append(history.column("val_loss"))
            accuracy[name].append(history.last["val_accuracy"])

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=DPI, layout="constrained")
    for name, colour in zip(names, PALETTE, strict=False):
        mean = np.mean(curves[name], axis=0)  # (epochs,)
        ax.plot(np.arange(1, len(mean) + 1), mean, color=colour, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation loss (mean over seeds {list(seeds)})")
    ax.set_title("moons, 2-16-16-1 ReLU, batches of 32, every optimizer at lr 0.01")
    ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "default_job.png"))

    result = DemoResult(figures=[out / "default_job.png"])
    for name in names:
        result.add(
            f"validation loss, {name}",
            float(np.mean([c[-1] for c in curves[name]])),
            f"after {config.epochs} epochs, mean over seeds {list(seeds)}; validation accuracy "
            f"{np.mean(accuracy[name]):.1%}",
        )
    return result


# ---------------------------------------------------------------- exercise 3.1.1: Adam's step


def adam_step(
    p: Tensor,
    g: Tensor,
    m: Tensor,
    v: Tensor,
    t: int,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[Tensor, Tensor, Tensor]:
    """Adam's t-th step (t counts from 1) for one parameter tensor.

    p is the parameter, g its gradient, m and v Adam's running averages of g and g^2 after
    step t - 1 (zeros before the first step), all of the same shape. Update the averages,
    m = beta1 m + (1 - beta1) g and v = beta2 v + (1 - beta2) g^2, correct their bias towards
    zero, m_hat = m / (1 - beta1^t) and v_hat = v / (1 - beta2^t), and step
    p - lr m_hat / (sqrt(v_hat) + eps). Return (new p, new m, new v); leave the inputs as
    they are.

    >>> z = torch.zeros(2)
    >>> adam_step(torch.tensor([1.0, 1.0]), torch.tensor([0.5, -2.0]), z, z, t=1, lr=0.1)
    (tensor([0.9000, 1.1000]), tensor([ 0.0500, -0.2000]), tensor([0.0003, 0.0040]))
    """
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return p - lr * m_hat / (v_hat.sqrt() + eps), m, v


ADAM_OUTPUTS = ("p", "m", "v")


def _adam_cases() -> list[Case]:
    def make(shape: tuple[int, ...], t: int, lr: float, seed: int, scale: float = 1.0) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            p, grad = torch.randn(shape, generator=g), scale * torch.randn(shape, generator=g)
            if t == 1:
                m, v = torch.zeros(shape), torch.zeros(shape)
            else:  # averages of a few earlier gradients: m small, v positive
                m = 0.1 * scale * torch.randn(shape, generator=g)
                v = 0.01 * scale**2 * torch.rand(shape, generator=g)
            return p, grad, m, v, t, lr

        return Case(f"{shape}, step {t}, lr {lr:g}, gradients ~{scale:g}", args)

    return [make((5,), 1, 0.1, 0), make((3, 4), 2, 0.01, 1), make((8,), 10, 1e-3, 2),
            make((2, 3), 500, 0.05, 3), make((6,), 3, 0.01, 4, scale=1e-5)]  # fmt: skip


def _torch_adam(p: Tensor, g: Tensor, m: Tensor, v: Tensor, t: int, lr: float) -> Outputs:
    """torch.optim.Adam, its state set to (t - 1 steps taken, m, v), one step."""
    param = p.clone().requires_grad_()
    optimizer = torch.optim.Adam([param], lr=lr, betas=(0.9, 0.999), eps=1e-8)
    if t > 1:
        optimizer.state[param] = {
            "step": torch.tensor(float(t - 1)),
            "exp_avg": m.clone(),
            "exp_avg_sq": v.clone(),
        }
    param.grad = g.clone()
    optimizer.step()
    state = optimizer.state[param]
    return {"p": param.detach(), "m": state["exp_avg"], "v": state["exp_avg_sq"]}


def _adam_variant(
    p: Tensor, g: Tensor, m: Tensor, v: Tensor, t: int, lr: float, *, way: str
) -> Outputs:
    """Adam written with one known mistake (``way``)."""
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * (g.abs() if way == "no square" else g * g)
    if way == "no bias correction":
        m_hat, v_hat = m, v
    elif way == "t - 1":
        m_hat, v_hat = m / (1 - 0.9 ** (t - 1) + 1e-30), v / (1 - 0.999 ** (t - 1) + 1e-30)
    else:
        m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
    scale = (v_hat + 1e-8).sqrt() if way == "eps inside" else v_hat.sqrt() + 1e-8
    step = m_hat / v_hat if way == "no root" else m_hat / scale
    return {"p": p - lr * step, "m": m, "v": v}


def _adam_mistake(way: str) -> object:
    return lambda *args: _adam_variant(*args, way=way)


ADAM_STEP = Exercise(
    id="3.1.1",
    title="Adam's step",
    solution=adam_step,
    cases=_adam_cases,
    oracle=_torch_adam,
    oracle_name="torch.optim.Adam with its state set to (t - 1, m, v), one step",
    outputs=ADAM_OUTPUTS,
    hints=(
        "update both running averages first, then divide each by one minus its beta to the "
        "power t (the bias correction), then take the step",
        "m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g * g; "
        "m_hat = m / (1 - beta1**t); v_hat = v / (1 - beta2**t); "
        "return p - lr * m_hat / (v_hat.sqrt() + eps), m, v",
    ),
    mistakes=(
        Mistake(
            "no bias correction",
            "divide m by 1 - beta1^t and v by 1 - beta2^t: without the bias correction the "
            "first steps are too small (m and v start at zero)",
            _adam_mistake("no bias correction"),  # type: ignore[arg-type]
        ),
        Mistake(
            "t - 1",
            "t counts from 1 at the first step: correct by 1 - beta^t, not 1 - beta^(t - 1)",
            _adam_mistake("t - 1"),  # type: ignore[arg-type]
        ),
        Mistake(
            "eps inside the root",
            "add eps after the square root, sqrt(v_hat) + eps, as torch.optim.Adam does, not "
            "inside it",
            _adam_mistake("eps inside"),  # type: ignore[arg-type]
        ),
        Mistake(
            "g instead of g^2",
            "v averages the squared gradient: (1 - beta2) * g * g",
            _adam_mistake("no square"),  # type: ignore[arg-type]
        ),
        Mistake(
            "no square root",
            "divide by the square root of v_hat (the gradient's scale), not v_hat itself",
            _adam_mistake("no root"),  # type: ignore[arg-type]
        ),
    ),
    rtol=1e-4,
    atol=1e-6,
)

# ---------------------------------------------------------------- exercise 3.1.2: momentum


def momentum_step(
    p: Tensor, g: Tensor, velocity: Tensor, lr: float, momentum: float
) -> tuple[Tensor, Tensor]:
    """One step of SGD with (heavy-ball) momentum, the way torch.optim.SGD writes it.

    p is the parameter, g its gradient and velocity the buffer after the previous step (zeros
    before the first), all of the same shape. The velocity keeps the whole gradient,
    velocity = momentum * velocity + g, and the parameter steps along it: p - lr * velocity.
    Return (new p, new velocity); leave the inputs as they are.

    >>> momentum_step(torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([1.0]), 0.1, 0.9)
    (tensor([0.7100]), tensor([2.9000]))
    """
    velocity = momentum * velocity + g
    return p - lr * velocity, velocity


def _momentum_cases() -> list[Case]:
    def make(shape: tuple[int, ...], first: bool, lr: float, mu: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            p, grad = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
            velocity = torch.zeros(shape) if first else torch.randn(shape, generator=g)
            return p, grad, velocity, lr, mu

        return Case(f"{shape}, {'first step' if first else 'later step'}, mu {mu:g}", args)

    return [make((4,), True, 0.1, 0.9, 0), make((3, 5), False, 0.05, 0.9, 1),
            make((6,), False, 0.01, 0.5, 2), make((2, 2), False, 0.2, 0.99, 3)]  # fmt: skip


def _torch_momentum(p: Tensor, g: Tensor, velocity: Tensor, lr: float, mu: float) -> Outputs:
    """torch.optim.SGD(momentum=mu), its buffer set to ``velocity`` unless this is the first
    step (all-zero velocity: torch then starts the buffer at g, the same thing)."""
    param = p.clone().requires_grad_()
    optimizer = torch.optim.SGD([param], lr=lr, momentum=mu)
    if bool(velocity.any()):
        optimizer.state[param] = {"momentum_buffer": velocity.clone()}
    param.grad = g.clone()
    optimizer.step()
    return {"p": param.detach(), "velocity": optimizer.state[param]["momentum_buffer"]}


MOMENTUM_STEP = Exercise(
    id="3.1.2",
    title="a step of SGD with momentum",
    solution=momentum_step,
    cases=_momentum_cases,
    oracle=_torch_momentum,
    oracle_name="torch.optim.SGD(momentum=mu) with its momentum buffer set, one step",
    outputs=("p", "velocity"),
    hints=(
        "first the velocity (the old one shrunk by momentum, plus the new gradient), then the "
        "parameter steps along the NEW velocity",
        "velocity = momentum * velocity + g; return p - lr * velocity, velocity",
    ),
    mistakes=(
        Mistake(
            "dampened",
            "torch.optim.SGD adds the whole gradient: velocity = momentum * velocity + g, "
            "without the (1 - momentum) of an exponential average",
            lambda p, g, v, lr, mu: {
                "p": p - lr * (mu * v + (1 - mu) * g),
                "velocity": mu * v + (1 - mu) * g,
            },
        ),
        Mistake(
            "stepped along g",
            "step along the velocity, p - lr * velocity, not along the gradient alone",
            lambda p, g, v, lr, mu: {"p": p - lr * g, "velocity": mu * v + g},
        ),
        Mistake(
            "old velocity",
            "update the velocity first, then step along the new one",
            lambda p, g, v, lr, mu: {"p": p - lr * v, "velocity": mu * v + g},
        ),
    ),
    rtol=1e-5,
    atol=1e-6,
)

LESSON = Lesson(
    id="3.1",
    title="Optimizers beyond SGD",
    minutes=30,
    eli5=(
        "Plain gradient descent is a walker who looks only at the slope under their feet. In a "
        "long narrow valley the slope points mostly across it, so they zigzag from wall to "
        "wall and crawl along the floor. Momentum is a heavy ball: it keeps part of its speed, "
        "so the zigzags cancel and the speed along the floor builds up. RMSProp gives every "
        "direction its own step size, small where the slope is steep and large where it is "
        "gentle. Adam does both, and is the usual first choice. Each is a few lines of "
        "arithmetic; here you write them and check them against PyTorch's."
    ),
    equations=(
        r"\text{momentum: } v_t = \mu v_{t-1} + g_t, \quad \theta_t = \theta_{t-1} - \eta v_t",
        r"\text{RMSProp: } s_t = \alpha s_{t-1} + (1-\alpha) g_t^2, \quad "
        r"\theta_t = \theta_{t-1} - \eta \frac{g_t}{\sqrt{s_t} + \epsilon}",
        r"\text{Adam: } m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad "
        r"v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \quad "
        r"\theta_t = \theta_{t-1} - \eta \frac{m_t / (1-\beta_1^t)}"
        r"{\sqrt{v_t / (1-\beta_2^t)} + \epsilon}",
        r"L(x, y) = \tfrac12 (x^2 + 100 y^2): \text{ gradient descent is stable iff } "
        r"\eta < 2/100, \text{ and then } x_t = (1 - \eta)^t x_0",
    ),
    notes=(
        "The bias correction matters at the start: $m_1 = (1-\\beta_1) g_1$ is a tenth of the "
        "gradient, and dividing by $1 - \\beta_1^1 = 0.1$ restores it. Adam's first step is "
        "therefore about $\\eta$ in every coordinate, whatever the gradient's size.",
    ),
    look_at=(
        "the scratch rules and torch.optim stay equal to float64 rounding over every step",
        "valley_race.png, left: SGD is held to lr < 0.02 by the steep direction, so it crawls "
        "along the gentle one; momentum overshoots and swings but gets there; RMSProp and Adam "
        "step about as far in both coordinates, so they do not bounce across the valley",
        "valley_race.png, right: SGD's loss falls by the same factor each step (a straight line "
        "on the log axis): the closed form (1 - lr)^t",
        "default_job.png: at the same lr 0.01 plain SGD is still far behind when the others "
        "have converged; momentum's curve lags Adam's and RMSProp's but gets there (an lr is "
        "not comparable between optimizers)",
    ),
    demos=(
        Demo("from scratch == torch.optim, step by step", scratch_equals_torch),
        Demo("a race in a narrow valley", race_in_a_valley, ("valley_race.png",)),
        Demo(
            "every optimizer on the default job",
            optimizers_on_the_default_job,
            ("default_job.png",),
        ),
    ),
    exercises=(ADAM_STEP, MOMENTUM_STEP),
)
