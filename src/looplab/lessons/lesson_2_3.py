"""Lesson 2.3: a network from scratch on the sine curve: forward, backward and update by hand,
checked against autograd; and why the same network at width 50 diverges."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from looplab.data.prepared import PreparedData
from looplab.data.split import Split
from looplab.experiments.sine_width import run_sine_lesson, sine_config, sine_data, sine_model
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.loop.events import Callback, StopTraining
from looplab.loop.state import LoopState
from looplab.manual.losses import MSE
from looplab.manual.mlp import ManualMLP
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.style import DPI, PALETTE, save
from looplab.run.fit import fit
from looplab.watch.diagnoses import NONFINITE, Diagnoses

# ---------------------------------------------------------------- demos


def sine_from_scratch(fast: bool = False, out: Path = Path("lessons/2.3")) -> DemoResult:
    """The course's network, trained by hand: 300 points of sin(x) on [-2pi, 2pi], one hidden
    layer of 10 ReLUs with ``torch.randn`` weights and zero biases, MSE, full-batch gradient
    descent at lr 1e-2 for 1000 epochs. Forward, backward and update are numpy
    (``looplab.manual``); autograd trains the same network beside it as the check."""
    lr, epochs = 1e-2, 1000
    data = sine_data()  # 300 evenly spaced x, y = sin(x)
    assert isinstance(data.train, Split)
    x, y = data.train.X.numpy(), data.train.y.numpy()  # (300, 1), (300,)

    def train_by_hand(seed: int) -> tuple[list[float], np.ndarray, np.ndarray]:
        net = ManualMLP.from_module(sine_model(10, seed))  # numpy views of randn weights
        mse = MSE()
        losses = []
        for _ in range(epochs):
            pred = net.forward(x)  # (300, 1): fc1 -> relu -> fc2
            losses.append(float(mse.forward(pred, y)))  # mean((pred - y)^2)
            net.backward(mse.backward())  # every layer's dL/dW and dL/db, chain rule by hand
            for p, g in zip(net.parameters(), net.gradients(), strict=True):
                p -= lr * g  # the update, in place
        W1, b1 = net.parameters()[:2]  # (10, 1), (10,)
        return losses, net.forward(x)[:, 0], -b1 / W1[:, 0]  # each unit's kink: W1 x + b1 = 0

    # one step's gradients by hand and by autograd, from the same start
    start = sine_model(10, 0)
    net, mse = ManualMLP.from_module(start), MSE()
    mse.forward(net.forward(x), y)
    net.backward(mse.backward())
    F.mse_loss(start(data.train.X)[:, 0], data.train.y).backward()
    grad_gap = max(  # relative: the first gradients are in the hundreds
        float(np.abs(g - p.grad.numpy()).max() / np.abs(p.grad.numpy()).max())  # type: ignore[union-attr]
        for g, p in zip(net.gradients(), start.parameters(), strict=True)
    )

    seeds = range(2 if fast else 5)
    runs = [train_by_hand(seed) for seed in seeds]
    losses, fitted, kinks = runs[0]
    twin = run_sine_lesson(10, 0, lr=lr, epochs=epochs)  # autograd + torch.optim.SGD, via fit
    twin_losses = twin.column("train_loss")  # full batch: the loss of each step, before it

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=DPI, layout="constrained")
    left.plot(x[:, 0], y, color=PALETTE[7], lw=2, label="sin(x), the true curve")
    left.plot(x[:, 0], fitted, color=PALETTE[3], lw=2, label=f"the network, loss {losses[-1]:.3g}")
    left.plot(kinks, np.interp(kinks, x[:, 0], fitted), "|", color=PALETTE[3], ms=12,
              label="the units' kinks")  # fmt: skip
    left.set_xlabel("x")
    left.set_ylabel("y")
    left.set_title("1-10-1 ReLU, randn weights, lr 1e-2, 1000 full-batch epochs")
    left.legend(fontsize=8)
    right.semilogy(losses, color=PALETTE[0], lw=2, label="by hand (numpy)")
    right.semilogy(twin_losses, color=PALETTE[1], ls="--", label="autograd + torch.optim.SGD")
    right.set_xlabel("epoch (one full-batch step)")
    right.set_ylabel("training loss (MSE)")
    right.set_title("the same network trained two ways")
    right.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "sine_fit.png"))

    finals = [run[0][-1] for run in runs]
    result = DemoResult(figures=[out / "sine_fit.png"])
    result.add(
        "hand gradient vs autograd, step 1",
        grad_gap,
        "largest difference relative to the largest entry, over W1, b1, W2 and b2: float32 "
        "rounding",
    )
    result.add("first loss", losses[0], "the randn network before any step")
    result.add(
        "final loss", losses[-1], f"after {epochs} steps by hand; the course says about 0.15"
    )
    result.add(
        "max |hand loss - autograd loss|",
        max(abs(a - b) for a, b in zip(losses, twin_losses, strict=True)),
        f"over all {epochs} epochs: the hand loop and autograd train the same network",
    )
    result.add(
        "farthest kink from 0",
        float(np.abs(kinks).max()),
        "zero biases put every unit's kink at x = 0 at the start, and the biases move slowly: "
        "beyond the farthest kink the fit is one straight line through the waves",
    )
    result.add(
        "final loss, spread over seeds",
        max(finals) - min(finals),
        f"seeds 0-{len(finals) - 1} end between {min(finals):.3g} and {max(finals):.3g}",
    )
    return result


def sine_variations(fast: bool = False, out: Path = Path("lessons/2.3")) -> DemoResult:
    """The course's variations of the same run: tanh instead of ReLU (the same randn weights),
    noisy targets (sin(x) + 0.1 noise), and stopping as soon as the loss falls below a
    threshold (a callback on the loop's ``on_epoch_end`` event)."""
    threshold = 0.2

    class StopBelow(Callback):
        """Ends training at the first epoch whose loss is below the threshold."""

        def on_epoch_end(self, state: LoopState, epoch: int, row: dict[str, float]) -> None:
            if row["train_loss"] < threshold:
                raise StopTraining

    data = sine_data()
    assert isinstance(data.train, Split)
    x, y = data.train.X, data.train.y  # (300, 1), (300,)
    noise = 0.1 * torch.randn(len(y), generator=torch.Generator().manual_seed(0))
    noisy = PreparedData(Split(x, y + noise), None, "regression", feature_names=["x"])
    config = sine_config(epochs=300 if fast else 1000)

    runs = {}
    for name, activation, targets, callbacks in (
        ("relu", "relu", data, []),
        ("tanh", "tanh", data, []),
        ("relu, noisy targets", "relu", noisy, []),
        (f"relu, stop below {threshold:g}", "relu", data, [StopBelow()]),
    ):
        model = build_model(ModelSpec(1, 1, (10,), activation))
        model.load_state_dict(sine_model(10, 0).state_dict())  # the same randn start
        history = fit(model, targets, config, callbacks)
        with torch.no_grad():
            fitted = model(x)[:, 0]
        runs[name] = (history.column("train_loss"), fitted)

    fig, axes = plt.subplots(1, 3, figsize=(14, 4), dpi=DPI, layout="constrained")
    ax = axes[0]
    ax.plot(x[:, 0], y, color=PALETTE[7], lw=2, label="sin(x)")
    for name, colour in (("relu", PALETTE[3]), ("tanh", PALETTE[0])):
        ax.plot(x[:, 0], runs[name][1], color=colour, label=f"{name}: {runs[name][0][-1]:.3g}")
    ax.set_title("the activation swapped, same weights")
    ax = axes[1]
    noisy_y = noisy.train.y  # type: ignore[union-attr]
    ax.plot(x[:, 0], noisy_y, ".", color=PALETTE[5], ms=3, label="sin(x) + 0.1 noise")
    ax.plot(x[:, 0], y, color=PALETTE[7], lw=2, label="sin(x)")
    ax.plot(x[:, 0], runs["relu, noisy targets"][1], color=PALETTE[3], label="fit to the noise")
    ax.set_title("noisy targets")
    for ax in axes[:2]:
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(fontsize=8)
    ax = axes[2]
    stopped = runs[f"relu, stop below {threshold:g}"][0]
    ax.semilogy(runs["relu"][0], color=PALETTE[0], label=f"{config.epochs} epochs")
    ax.semilogy(stopped, color=PALETTE[1], lw=3, label=f"stopped at epoch {len(stopped)}")
    ax.axhline(threshold, color=PALETTE[7], ls=":", label=f"threshold {threshold:g}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (MSE)")
    ax.set_title("stop when the loss is low enough")
    ax.legend(fontsize=8)
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "sine_variations.png"))

    fit_noisy = runs["relu, noisy targets"][1]
    result = DemoResult(figures=[out / "sine_variations.png"])
    result.add("final loss, relu", runs["relu"][0][-1], "the course's run (seed 0)")
    result.add(
        "final loss, tanh",
        runs["tanh"][0][-1],
        f"the same randn weights with tanh in between: "
        f"{'lower' if runs['tanh'][0][-1] < runs['relu'][0][-1] else 'not lower'} than ReLU's",
    )
    result.add(
        "final loss, noisy targets",
        runs["relu, noisy targets"][0][-1],
        f"measured against the noisy targets; the noise alone costs {float(noise.var()):.3g}",
    )
    result.add(
        "noisy fit vs the true curve",
        float(((fit_noisy - y) ** 2).mean()),
        f"the network fitted to noisy targets, measured against sin(x) itself; the clean "
        f"run's is {runs['relu'][0][-1]:.3g}: the noise averages out",
    )
    result.add(
        "epochs until below the threshold",
        len(stopped),
        f"the StopBelow callback ended training at loss {stopped[-1]:.4g} < {threshold:g}; "
        f"the full run took {config.epochs} epochs to {runs['relu'][0][-1]:.3g}",
    )
    return result


def width_50_diverges(fast: bool = False, out: Path = Path("lessons/2.3")) -> DemoResult:
    """The same run at width 50 overflows within a few steps. Why: with std-1 weights the
    output's scale grows with the width, and so does the loss surface's curvature (the largest
    eigenvalue of the Hessian at the start, its *sharpness*); gradient descent on a quadratic
    is stable only for lr < 2 / sharpness. Measured at several widths, then the two fixes the
    diagnosis names."""
    lr, epochs = 1e-2, 300 if fast else 1000

    class StopWhenNonFinite(Callback):
        """Ends a diverged run at its first non-finite loss (the rest would be NaN)."""

        def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
            if not math.isfinite(float(loss.detach())):
                raise StopTraining

    data = sine_data()
    assert isinstance(data.train, Split)
    x, y = data.train.X.double(), data.train.y.double()  # (300, 1), (300,)

    def sharpness(model: torch.nn.Module) -> float:
        """The largest eigenvalue of the loss's Hessian in all the weights (float64)."""
        params = [p.detach().double() for p in model.parameters()]
        sizes = [p.numel() for p in params]

        def loss_of(flat: Tensor) -> Tensor:
            W1, b1, W2, b2 = (
                v.reshape(p.shape) for v, p in zip(flat.split(sizes), params, strict=True)
            )
            pred = torch.relu(x @ W1.T + b1) @ W2.T + b2  # (300, 1)
            loss: Tensor = ((pred[:, 0] - y) ** 2).mean()
            return loss

        flat = torch.cat([p.reshape(-1) for p in params])
        hessian = torch.autograd.functional.hessian(loss_of, flat)  # type: ignore[no-untyped-call]
        return float(torch.linalg.eigvalsh(hessian).max())

    diagnoses = Diagnoses()
    diverged = run_sine_lesson(50, 0, lr=lr, callbacks=[diagnoses, StopWhenNonFinite()])
    (note,) = diverged.notes_of(NONFINITE)
    assert note.step is not None
    runs = {
        "width 10": run_sine_lesson(10, 0, lr=lr, epochs=epochs).column("train_loss"),
        "width 50": diverged.column("train_loss"),
        "width 50, lr 1e-3": run_sine_lesson(50, 0, lr=lr / 10, epochs=epochs).column("train_loss"),
        "width 50, xavier_normal": run_sine_lesson(
            50, 0, lr=lr, epochs=epochs, init="xavier_normal"
        ).column("train_loss"),
    }

    widths, seeds = ((10, 50) if fast else (5, 10, 20, 50, 100)), range(2 if fast else 5)
    rows = []  # (width, seed, sharpness at the start, diverged)
    for width in widths:
        for seed in seeds:
            history = run_sine_lesson(
                width, seed, lr=lr, epochs=100, callbacks=[StopWhenNonFinite()]
            )
            blew_up = not math.isfinite(history.column("train_loss")[-1]) or len(history) < 100
            rows.append((width, seed, sharpness(sine_model(width, seed)), blew_up))
    draws = torch.Generator().manual_seed(0)
    first_losses = {}  # width -> mean first loss over 1000 random starts (randn, zero biases)
    for width in widths:
        W1 = torch.randn(1000, 1, width, generator=draws, dtype=torch.float64)  # (draws, 1, w)
        W2 = torch.randn(1000, width, 1, generator=draws, dtype=torch.float64)  # (draws, w, 1)
        pred = torch.relu(x @ W1) @ W2  # (draws, 300, 1)
        first_losses[width] = float(((pred[..., 0] - y) ** 2).mean())
    xavier = sine_model(50, 0, "xavier_normal")  # the start of fix 2

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=DPI, layout="constrained")
    for (name, losses), colour in zip(runs.items(), PALETTE, strict=False):
        finite = [v for v in losses if math.isfinite(v)]
        left.semilogy(range(1, len(finite) + 1), finite, color=colour, label=name)
    left.set_xlabel("epoch (one full-batch step)")
    left.set_ylabel("training loss (MSE)")
    left.set_title("1-W-1 ReLU on sin(x), randn weights, lr 1e-2")
    left.legend(fontsize=8)
    for blew_up, marker, label in ((False, "o", "converged"), (True, "x", "diverged")):
        points = [(w, s) for w, _, s, b in rows if b == blew_up]
        if points:
            right.plot(*zip(*points, strict=True), marker, color=PALETTE[3 if blew_up else 2],
                       label=label, ls="none")  # fmt: skip
    right.axhline(2 / lr, color=PALETTE[7], ls=":", label=f"2 / lr = {2 / lr:g}")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("hidden width")
    right.set_ylabel("sharpness at the start (top Hessian eigenvalue)")
    right.set_title(f"one dot per seed ({len(seeds)} seeds per width)")
    right.legend(fontsize=8)
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "width_50.png"))

    mean_sq = float((x**2).mean())  # E[x^2] over the 300 points
    result = DemoResult(figures=[out / "width_50.png"])
    result.add(
        "divergence step, width 50",
        note.step,
        f"looplab's diagnosis: {note.text}; {note.advice}",
    )
    result.add(
        "fc2 weight std / (1/sqrt(fan_in)), width 50",
        float(sine_model(50, 0).linear(2).weight.detach().std()) * math.sqrt(50),
        "randn's std is 1 whatever the width; a scaled init keeps std near 1/sqrt(fan_in)",
    )
    result.add(
        "first loss, width 50, seed 0",
        runs["width 50"][0],
        f"width 10's was {runs['width 10'][0]:.4g} from the same seed",
    )
    for width in widths:
        of_width = [r for r in rows if r[0] == width]
        result.add(
            f"mean first loss, width {width}",
            first_losses[width],
            f"over 1000 random starts; the closed form width * E(x^2) / 2 + E(sin(x)^2) gives "
            f"{width * mean_sq / 2 + float((y**2).mean()):.4g}",
        )
        result.add(
            f"median sharpness, width {width}",
            statistics.median(r[2] for r in of_width),
            f"{sum(r[3] for r in of_width)} of {len(of_width)} seeds diverge; gradient descent "
            f"on a quadratic needs sharpness < 2 / lr = {2 / lr:g}",
        )
    result.add(
        "sharpness, width 50, xavier_normal",
        sharpness(xavier),
        "the start of fix 2: far below 2 / lr",
    )
    result.add(
        "final loss, width 50, lr 1e-3",
        runs["width 50, lr 1e-3"][-1],
        f"fix 1, after {epochs} epochs: a tenth of the step (2 / lr = 2000 clears the sharpness)",
    )
    result.add(
        "final loss, width 50, xavier_normal",
        runs["width 50, xavier_normal"][-1],
        f"fix 2, after {epochs} epochs: weights scaled by the width, at the original lr 1e-2",
    )
    return result


# ---------------------------------------------------------------- exercise 2.3.1: ReLU's backward


def relu_backward(pre: Tensor, grad_out: Tensor) -> Tensor:
    """The backward pass of h = relu(pre): dL/dpre from dL/dh.

    pre (the input of the ReLU) and grad_out = dL/dh have the same shape. The gradient passes
    through where pre > 0 and is stopped (0) elsewhere, including at exactly 0 (PyTorch's
    choice). Return dL/dpre, shaped like pre.

    >>> relu_backward(torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([5.0, 5.0, -3.0]))
    tensor([ 0.,  0., -3.])
    """
    return grad_out * (pre > 0)


def _relu_cases() -> list[Case]:
    def make(shape: tuple[int, ...], seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            pre = torch.randn(shape, generator=g)
            pre.reshape(-1)[::4] = 0.0  # exact zeros: the kink
            return pre, torch.randn(shape, generator=g)

        return Case(f"shape {shape}, with zeros", args)

    return [make((8,), 0), make((4, 10), 1), make((300, 10), 2), make((2, 3, 4), 3)]


def _autograd_relu(pre: Tensor, grad_out: Tensor) -> Outputs:
    pre = pre.clone().requires_grad_()
    (grad,) = torch.autograd.grad(torch.relu(pre), pre, grad_outputs=grad_out)
    return {"result": grad}


RELU_BACKWARD = Exercise(
    id="2.3.1",
    title="ReLU's backward",
    solution=relu_backward,
    cases=_relu_cases,
    oracle=_autograd_relu,
    oracle_name="autograd through torch.relu, given dL/dh",
    hints=(
        "the derivative of relu is 1 where its input is positive and 0 elsewhere; the chain "
        "rule multiplies it by the gradient arriving from above",
        "return grad_out * (pre > 0)",
    ),
    mistakes=(
        Mistake(
            "mask at 0",
            "at exactly 0 the gradient is stopped in PyTorch: mask with pre > 0, not pre >= 0",
            lambda pre, g: {"result": g * (pre >= 0)},
        ),
        Mistake(
            "the mask alone",
            "multiply the mask by grad_out (the chain rule): you returned the derivative of "
            "relu alone",
            lambda pre, g: {"result": (pre > 0).float()},
        ),
        Mistake(
            "relu of the gradient",
            "the mask comes from the forward input pre, not from the gradient: "
            "grad_out * (pre > 0), not relu(grad_out)",
            lambda pre, g: {"result": torch.relu(g)},
        ),
    ),
)

# ---------------------------------------------------------------- exercise 2.3.2: one step


def sine_step(
    x: Tensor, y: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, lr: float
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """One full-batch gradient-descent step of the sine network, entirely by hand.

    x is (N, 1), y is (N, 1); W1 (H, 1), b1 (H,), W2 (1, H), b2 (1,) (nn.Linear's layout).
    Forward: pre = x @ W1.T + b1, h = relu(pre), pred = h @ W2.T + b2, loss = mean((pred -
    y) ** 2). Backward by the chain rule (no autograd), then W <- W - lr * dL/dW for all four.
    Return (loss before the step, new W1, new b1, new W2, new b2).

    >>> x = torch.tensor([[1.0]]); y = torch.tensor([[0.0]])
    >>> one = torch.ones(1, 1)
    >>> sine_step(x, y, one, torch.zeros(1), one, torch.zeros(1), lr=0.1)
    (tensor(1.), tensor([[0.8000]]), tensor([-0.2000]), tensor([[0.8000]]), tensor([-0.2000]))
    """
    n = len(x)
    pre = x @ W1.T + b1  # (N, H)
    h = torch.relu(pre)  # (N, H)
    pred = h @ W2.T + b2  # (N, 1)
    loss = ((pred - y) ** 2).mean()
    d_pred = 2 / n * (pred - y)  # (N, 1)
    dW2, db2 = d_pred.T @ h, d_pred.sum(0)  # (1, H), (1,)
    d_pre = (d_pred @ W2) * (pre > 0)  # (N, H): through fc2, then relu's mask
    dW1, db1 = d_pre.T @ x, d_pre.sum(0)  # (H, 1), (H,)
    return loss, W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2


STEP_OUTPUTS = ("loss", "W1", "b1", "W2", "b2")


def _sine_cases() -> list[Case]:
    def make(n: int, width: int, seed: int, lr: float) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            x = torch.linspace(-2 * math.pi, 2 * math.pi, n).unsqueeze(1)  # (N, 1)
            W1, W2 = torch.randn(width, 1, generator=g), torch.randn(1, width, generator=g)
            b1, b2 = 0.5 * torch.randn(width, generator=g), torch.zeros(1)
            return x, torch.sin(x), W1, b1, W2, b2, lr

        return Case(f"N={n}, width {width}, lr {lr:g}", args)

    return [make(300, 10, 0, 1e-2), make(20, 3, 1, 1e-3), make(50, 16, 2, 1e-2)]


def _torch_step(
    x: Tensor,
    y: Tensor,
    W1: Tensor,
    b1: Tensor,
    W2: Tensor,
    b2: Tensor,
    lr: float,
    *,
    way: str = "right",
) -> Outputs:
    """torch.optim.SGD on autograd's gradients; the other ``way``s are known mistakes: a step
    uphill, the gradient of a sum, half the gradient, or a backward that skips relu's mask."""
    params = [p.clone().requires_grad_() for p in (W1, b1, W2, b2)]
    w1, c1, w2, c2 = params
    pre = F.linear(x, w1, c1)  # (N, H)
    # "no mask": relu forward, identity backward (the mask forgotten)
    h = pre + (torch.relu(pre) - pre).detach() if way == "no mask" else torch.relu(pre)
    loss = F.mse_loss(F.linear(h, w2, c2), y)
    scale = {"uphill": -1.0, "sum": float(len(x)), "half": 0.5}.get(way, 1.0)
    optimizer = torch.optim.SGD(params, lr=lr * abs(scale), maximize=scale < 0)
    loss.backward()
    optimizer.step()
    return dict(zip(STEP_OUTPUTS, [loss.detach(), *(p.detach() for p in params)], strict=True))


def _mistaken(way: str) -> object:
    return lambda *args: _torch_step(*args, way=way)


SINE_STEP = Exercise(
    id="2.3.2",
    title="one full-batch step of the sine network by hand",
    solution=sine_step,
    cases=_sine_cases,
    oracle=_torch_step,
    oracle_name="autograd and torch.optim.SGD on the same network",
    outputs=STEP_OUTPUTS,
    hints=(
        "forward and keep pre, h and pred; backward from d_pred = 2/N (pred - y), through "
        "fc2 (d_pred.T @ h, d_pred @ W2), relu's mask (pre > 0) and fc1 (d_pre.T @ x)",
        "dW2 = d_pred.T @ h; db2 = d_pred.sum(0); d_pre = (d_pred @ W2) * (pre > 0); "
        "dW1 = d_pre.T @ x; db1 = d_pre.sum(0); then subtract lr times each",
    ),
    mistakes=(
        Mistake(
            "uphill",
            "the weights moved uphill: subtract lr * gradient (W - lr * dW), and the residual "
            "is pred - y",
            _mistaken("uphill"),  # type: ignore[arg-type]
        ),
        Mistake(
            "sum instead of mean",
            "the loss is a mean over the N rows: keep the 1/N in d_pred = 2/N (pred - y)",
            _mistaken("sum"),  # type: ignore[arg-type]
        ),
        Mistake(
            "missing factor 2",
            "the derivative of (pred - y)^2 is 2 (pred - y): d_pred = 2/N (pred - y)",
            _mistaken("half"),  # type: ignore[arg-type]
        ),
        Mistake(
            "relu's mask forgotten",
            "the gradient reaching fc1 must pass relu's mask: d_pre = (d_pred @ W2) * (pre > 0)",
            _mistaken("no mask"),  # type: ignore[arg-type]
        ),
    ),
    rtol=1e-4,
    atol=1e-5,
)

LESSON = Lesson(
    id="2.3",
    title="A network from scratch",
    minutes=35,
    eli5=(
        "Build the network with your own hands: two weight matrices, a ReLU between them, "
        "the squared error at the end, and the chain rule walked backwards to get every "
        "gradient. Then turn each weight a little against its gradient, a thousand times, "
        "and the straight line bends into a wave. Autograd does the same sums for you; here "
        "you check that it gets exactly your numbers. Make the layer five times wider with "
        "the same random weights and the same steps blow up: the wider net is steeper, so "
        "the same step jumps further than the valley is wide."
    ),
    equations=(
        r"\hat y = W_2\, \mathrm{relu}(W_1 x + b_1) + b_2, \qquad "
        r"L = \frac{1}{N} \sum_i (\hat y_i - y_i)^2",
        r"\delta = \frac{2}{N}(\hat y - y), \quad \frac{\partial L}{\partial W_2} = \delta^\top h, "
        r"\quad \frac{\partial L}{\partial W_1} = "
        r"\big((\delta W_2) \odot [W_1 x + b_1 > 0]\big)^\top x",
        r"\mathbb{E}[\hat y(x)^2] = \text{width} \cdot \frac{x^2}{2} "
        r"\quad (W \sim \mathcal{N}(0, 1),\ b = 0)",
        r"\text{gradient descent on a quadratic is stable iff } "
        r"\eta < 2 / \lambda_{\max}(\nabla^2 L)",
    ),
    look_at=(
        "sine_fit.png: the fit follows sin(x) only near 0, where the ten kinks are (zero biases "
        "start them all at x = 0); farther out it is one straight line, hence the loss of "
        "about 0.15; the hand loop's loss curve lies on autograd's",
        "sine_variations.png: the noisy targets cost about the noise's variance more, and the "
        "fit to them stays close to the true curve",
        "width_50.png, left: width 50 overflows within a few steps; a tenth of the learning "
        "rate or scaled weights fix it",
        "width_50.png, right: the sharpness at the start grows with the width; far above "
        "2 / lr the runs diverge (a little above it some still recover)",
    ),
    demos=(
        Demo("the sine network by hand, checked by autograd", sine_from_scratch, ("sine_fit.png",)),
        Demo(
            "tanh, noisy targets, a stopping threshold", sine_variations, ("sine_variations.png",)
        ),
        Demo("why width 50 diverges, and two fixes", width_50_diverges, ("width_50.png",)),
    ),
    exercises=(RELU_BACKWARD, SINE_STEP),
)
