"""Lesson 1.5: numerical vs analytical gradients: finite differences catch a wrong backward."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from looplab.inspect.gradcheck import check_manual_mlp, gradcheck
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.manual.layers import Array, Tanh
from looplab.manual.losses import CrossEntropyWithLogits
from looplab.manual.mlp import ManualMLP
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.style import PALETTE, new_figure, save

# ---------------------------------------------------------------- demos


def gradcheck_catches_a_bug(fast: bool = False, out: Path = Path("lessons/1.5")) -> DemoResult:
    """Gradient-check the hand-written backward of a 4-8-3 tanh MLP, then the same network with
    one planted bug in tanh's derivative."""
    healthy = check_manual_mlp((8,), "tanh", "ce", in_features=4, classes=3, batch=8, seed=0)

    class TanhWithBug(Tanh):
        """tanh with a planted bug in its backward: 1 - tanh(x) instead of 1 - tanh(x)^2."""

        def backward(self, grad: Array) -> Array:
            assert self.y is not None
            return grad * (1 - self.y)  # the bug: the square is missing

    spec = ModelSpec(4, 3, (8,), "tanh")
    net = ManualMLP.from_module(build_model(spec, seed=0).double())  # numpy views, float64
    net.layers[1] = TanhWithBug()  # fc1 -> [tanh with the bug] -> fc2
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 4, generator=g, dtype=torch.float64).numpy()  # (batch, in)
    y = torch.randint(0, 3, (8,), generator=g).numpy()  # (batch,) class labels
    loss = CrossEntropyWithLogits()
    loss.forward(net.forward(x), y)
    net.backward(loss.backward())  # the (buggy) analytical gradients
    names = net.parameter_names()
    grads = {n: grad.copy() for n, grad in zip(names, net.gradients(), strict=True)}

    def value() -> float:  # the loss at the parameters' current values (nudged in place)
        return float(CrossEntropyWithLogits().forward(net.forward(x), y))

    buggy = gradcheck(value, dict(zip(names, net.parameters(), strict=True)), grads)

    result = DemoResult()
    result.add(
        "worst relative error, correct backward",
        healthy.worst.max_rel_error,
        f"all {len(healthy.rows)} parameters agree with central differences "
        f"(tolerance {healthy.tol:g})",
    )
    result.add(
        "worst relative error, planted bug",
        buggy.worst.max_rel_error,
        f"{sum(not r.passed for r in buggy.rows)} of {len(buggy.rows)} parameters fail; "
        f"the worst is {buggy.worst.name}, upstream of the bug",
    )
    result.add(
        "fc2 errors with the bug",
        max(r.max_rel_error for r in buggy.rows if r.name.startswith("fc2")),
        "the layer after tanh still passes: its gradient does not go through the bug",
    )
    return result


def error_against_eps(fast: bool = False, out: Path = Path("lessons/1.5")) -> DemoResult:
    """How the finite-difference step eps sets the error, for f(x) = sum(sin(x) x^2): the
    one-sided difference is off by O(eps), the central one by O(eps^2), and both by
    rounding / eps when eps is tiny."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, generator=g, dtype=torch.float64).requires_grad_()  # (5,)

    def f(v: Tensor) -> Tensor:
        return (v.sin() * v**2).sum()

    (exact,) = torch.autograd.grad(f(x), x)  # the oracle: autograd
    x = x.detach()
    epsilons = np.logspace(-12, -1, 12 if fast else 45)
    errors: dict[str, list[float]] = {"forward": [], "central": []}
    for eps in epsilons:
        forward, central = torch.empty(5, dtype=torch.float64), torch.empty(5, dtype=torch.float64)
        for i in range(5):
            e = torch.zeros(5, dtype=torch.float64)
            e[i] = eps
            forward[i] = (f(x + e) - f(x)) / eps
            central[i] = (f(x + e) - f(x - e)) / (2 * eps)
        for name, estimate in (("forward", forward), ("central", central)):
            errors[name].append(float(((estimate - exact).abs() / exact.abs()).max()))

    fig, ax = new_figure()
    for (name, errs), colour in zip(errors.items(), (PALETTE[1], PALETTE[0]), strict=True):
        ax.loglog(epsilons, errs, marker="o", ms=3, color=colour, label=f"{name} difference")
    ax.set_xlabel("finite-difference step eps")
    ax.set_ylabel("max relative error vs autograd")
    ax.set_title("f(x) = sum(sin(x) x^2), float64: truncation (right) vs rounding (left)")
    ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "error_vs_eps.png"))

    result = DemoResult(figures=[out / "error_vs_eps.png"])
    for name in ("forward", "central"):
        best = int(np.argmin(errors[name]))
        result.add(
            f"best error, {name}",
            errors[name][best],
            f"the smallest error of the {name} difference, at eps = {epsilons[best]:.2g}",
        )
    big = int(np.argmin(np.abs(epsilons - 1e-3)))
    result.add(
        "central / forward error at eps 1e-3",
        errors["central"][big] / errors["forward"][big],
        "at a moderate step the central difference is "
        "far more accurate: its error is O(eps^2), not O(eps)",
    )
    return result


# ---------------------------------------------------------------- exercise 1.5.1


def numerical_gradient(f: Callable[[Tensor], Tensor], x: Tensor, eps: float) -> Tensor:
    """The gradient of a scalar function f at x by central differences, one entry at a time.

    x is a float64 tensor of any shape; f(x) returns a scalar tensor. For each entry i,
    g[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), with e_i the tensor that is 1 at i and
    0 elsewhere. Return g, shaped like x; leave x as you found it. (For a quadratic the
    central difference is exact for any eps, hence the large eps of the example.)

    >>> x = torch.tensor([1.0, -2.0], dtype=torch.float64)
    >>> numerical_gradient(lambda v: (v**2).sum(), x, eps=0.5)
    tensor([ 2., -4.], dtype=torch.float64)
    """
    g = torch.zeros_like(x)
    for i in range(x.numel()):
        e = torch.zeros_like(x).reshape(-1)
        e[i] = eps
        e = e.reshape(x.shape)  # eps at entry i, zero elsewhere
        g.reshape(-1)[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def wavy(v: Tensor) -> Tensor:
    """sum(sin(v) v^2): a smooth function with curvature everywhere."""
    return (v.sin() * v**2).sum()


def quartic(v: Tensor) -> Tensor:
    """sum(v^4) + (sum v)^2: entries interact."""
    return (v**4).sum() + v.sum() ** 2


def _gradient_cases() -> list[Case]:
    def make(f: Callable[[Tensor], Tensor], shape: tuple[int, ...], seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            return f, torch.randn(shape, generator=g, dtype=torch.float64), 1e-4

        return Case(f"{f.__name__}, x {shape}", args)

    return [make(wavy, (5,), 0), make(quartic, (3, 4), 1), make(wavy, (1,), 2)]


def _autograd(f: Callable[[Tensor], Tensor], x: Tensor, eps: float) -> Outputs:
    x = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(f(x), x)
    return {"result": g}


def _forward_difference(f: Callable[[Tensor], Tensor], x: Tensor, eps: float) -> Outputs:
    flat = x.reshape(-1)
    g = torch.stack(
        [
            (f((flat + eps * torch.eye(len(flat))[i].double()).reshape(x.shape)) - f(x)) / eps
            for i in range(len(flat))
        ]
    )
    return {"result": g.reshape(x.shape)}


def _not_restored(f: Callable[[Tensor], Tensor], x: Tensor, eps: float) -> Outputs:
    """Nudging x in place and forgetting to put each entry back: later entries are measured
    at a point shifted by -eps in every earlier entry."""
    x = x.clone()
    g = torch.zeros_like(x)
    flat, out = x.reshape(-1), g.reshape(-1)
    for i in range(len(flat)):
        flat[i] += eps
        up = f(x)
        flat[i] -= 2 * eps
        out[i] = (up - f(x)) / (2 * eps)
    return {"result": g}


NUMERICAL_GRADIENT = Exercise(
    id="1.5.1",
    title="a numerical gradient by central differences",
    solution=numerical_gradient,
    cases=_gradient_cases,
    oracle=_autograd,
    oracle_name="autograd (torch.autograd.grad) in float64",
    rtol=1e-6,
    atol=1e-8,
    imports=(
        "from collections.abc import Callable",
        "",
        "import torch",
        "from torch import Tensor",
    ),
    hints=(
        "nudge one entry at a time, up and down by eps, and divide the change in f by 2 eps",
        "build e = zeros_like(x) with e.reshape(-1)[i] = eps; g.reshape(-1)[i] = "
        "(f(x + e) - f(x - e)) / (2 * eps)",
    ),
    mistakes=(
        Mistake(
            "forward difference",
            "use the central difference (f(x + eps) - f(x - eps)) / (2 eps): the one-sided "
            "(f(x + eps) - f(x)) / eps is off by O(eps)",
            _forward_difference,
        ),
        Mistake(
            "eps instead of 2 eps",
            "the two points are 2 eps apart: divide by 2 * eps, not eps",
            lambda f, x, eps: {"result": 2 * _autograd(f, x, eps)["result"]},
        ),
        Mistake(
            "not restored",
            "put each entry back after nudging it: later entries were measured at a shifted x "
            "(nudge a copy, or restore x[i] before moving on)",
            _not_restored,
        ),
    ),
)

# ---------------------------------------------------------------- exercise 1.5.2


def relative_error(analytic: Tensor, numeric: Tensor, floor: float = 1e-3) -> Tensor:
    """The relative error a gradient check reports: the worst entry of
    |analytic - numeric| / max(|analytic|, |numeric|, floor).

    analytic and numeric have the same shape. The floor keeps entries where both gradients
    are (nearly) zero from dividing rounding noise by nothing. Return a scalar tensor.

    >>> relative_error(torch.tensor([1.0, 0.0]), torch.tensor([1.1, 1e-6]))
    tensor(0.0909)
    """
    scale = torch.maximum(torch.maximum(analytic.abs(), numeric.abs()), torch.tensor(floor))
    return ((analytic - numeric).abs() / scale).max()


def _error_cases() -> list[Case]:
    def make(shape: tuple[int, ...], floor: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            a = torch.randn(shape, generator=g, dtype=torch.float64)
            n = a + 0.05 * torch.randn(shape, generator=g, dtype=torch.float64) * a.abs()
            a.reshape(-1)[0], n.reshape(-1)[0] = 0.0, 1e-7  # an entry where both are ~zero
            if a.numel() > 2:
                n.reshape(-1)[2] = -a.reshape(-1)[2]  # a sign error in one entry
            return a, n, floor

        return Case(f"shape {shape}, floor {floor:g}", args)

    return [make((6,), 1e-3, 0), make((3, 4), 1e-2, 1), make((2,), 1e-3, 2), make((5, 5), 1e-5, 3)]


def _numpy_relative_error(a: Tensor, n: Tensor, floor: float) -> Outputs:
    """The definition, entry by entry in numpy."""
    an, nn_ = a.numpy().reshape(-1), n.numpy().reshape(-1)
    worst = max(abs(p - q) / max(abs(p), abs(q), floor) for p, q in zip(an, nn_, strict=True))
    return {"result": torch.tensor(worst, dtype=torch.float64)}


RELATIVE_ERROR = Exercise(
    id="1.5.2",
    title="the relative error of a gradient check",
    solution=relative_error,
    cases=_error_cases,
    oracle=_numpy_relative_error,
    oracle_name="the definition, entry by entry in numpy",
    rtol=1e-6,
    atol=1e-12,
    hints=(
        "divide each entry's absolute difference by the largest of |analytic|, |numeric| and "
        "the floor, then take the worst entry",
        "torch.maximum(torch.maximum(a.abs(), n.abs()), torch.tensor(floor)) is the scale; "
        "return (|a - n| / scale).max()",
    ),
    mistakes=(
        Mistake(
            "no floor",
            "keep the floor in the denominator: where both gradients are ~0 the rounding noise "
            "divided by ~0 looks like a huge error",
            lambda a, n, floor: _numpy_relative_error(a, n, 0.0),
        ),
        Mistake(
            "mean instead of max",
            "report the worst entry (.max()), not the average: one wrong entry is a wrong backward",
            lambda a, n, floor: {
                "result": (
                    (a - n).abs()
                    / torch.maximum(torch.maximum(a.abs(), n.abs()), torch.tensor(floor))
                ).mean()
            },
        ),
        Mistake(
            "divided by one side",
            "divide by the larger of |analytic| and |numeric| (and the floor), not by one of "
            "them: the error must not depend on which side is which",
            lambda a, n, floor: {
                "result": ((a - n).abs() / torch.maximum(n.abs(), torch.tensor(floor))).max()
            },
        ),
    ),
)

LESSON = Lesson(
    id="1.5",
    title="Numerical vs analytical gradients",
    minutes=20,
    eli5=(
        "There are two ways to know how the loss changes when you turn a knob. Work it out "
        "with calculus (fast, exact, but you can make a mistake), or just turn the knob a "
        "tiny bit each way and watch the loss (slow, approximate, but hard to get wrong). "
        "When the two agree, the calculus is right; when they do not, the check even tells "
        "you which knob's gradient is wrong."
    ),
    equations=(
        r"\hat g_i = \frac{L(\theta + \varepsilon e_i) - L(\theta - \varepsilon e_i)}"
        r"{2 \varepsilon}"
        r" = g_i + O(\varepsilon^2), \qquad "
        r"\frac{L(\theta + \varepsilon e_i) - L(\theta)}{\varepsilon} = g_i + O(\varepsilon)",
        r"\text{rel. error} = \max_i \frac{|g_i - \hat g_i|}{\max(|g_i|, |\hat g_i|, "
        r"\text{floor})}",
    ),
    look_at=(
        "the correct backward's worst relative error is tiny; the planted bug's is large, and "
        "only for the parameters upstream of the bug",
        "error_vs_eps.png: a V on log axes; right of the dip the truncation error falls as "
        "eps (forward) or eps^2 (central), left of it rounding grows as 1/eps",
        "so the central difference's best eps (~1e-5) is larger than the forward one's (~1e-8)",
    ),
    demos=(
        Demo("gradcheck catches a planted bug", gradcheck_catches_a_bug),
        Demo("the error against eps", error_against_eps, ("error_vs_eps.png",)),
    ),
    exercises=(NUMERICAL_GRADIENT, RELATIVE_ERROR),
)
