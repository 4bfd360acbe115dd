"""Lesson 1.1: what a training loop is: five lines, run on the ``linear`` dataset."""

from __future__ import annotations

import inspect
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from looplab import loop
from looplab.config import Config
from looplab.data.batches import make_batches
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.manual.linear import least_squares
from looplab.models.losses import TaskLoss
from looplab.plots.style import PALETTE, new_figure, save

# ---------------------------------------------------------------- demos


def the_five_lines(fast: bool = False, out: Path = Path("lessons/1.1")) -> DemoResult:
    """The loop of the course, written out, then the same training by ``looplab.loop.fit``."""
    epochs = 5 if fast else 30
    data = load_prepared(Config(dataset="linear", n=400 if fast else 2000))  # y = 3x + 1 + noise
    assert isinstance(data.train, Split)
    X, y = data.train.X, data.train.y  # (N, 1), (N,)

    torch.manual_seed(0)
    model = nn.Linear(1, 1)  # y_hat = w x + b
    start = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = TaskLoss("regression")  # mean squared error of (batch, 1) outputs vs (batch,)
    batches = make_batches(data.train, 32, generator=torch.Generator().manual_seed(0))

    with torch.no_grad():
        losses = [float(loss_fn(model(X), y))]  # the whole training split, before training
    batch_losses = []  # the loss of every update's batch
    for _ in range(epochs):
        for xb, yb in batches.epoch():  # shuffled mini-batches of 32 rows
            logits = model(xb)  # 1. forward: predictions, (batch, 1)
            loss = loss_fn(logits, yb)  # 2. loss: one number, the batch's mean
            optimizer.zero_grad()  # 3. forget the last step's gradients
            loss.backward()  # 4. backward: dL/dw and dL/db into .grad
            optimizer.step()  # 5. update: w <- w - lr * dL/dw
            batch_losses.append(loss.item())
        with torch.no_grad():
            losses.append(float(loss_fn(model(X), y)))

    # the same training by looplab.loop.fit: the same start, the same batches in the same order
    twin = nn.Linear(1, 1)
    twin.load_state_dict(start)
    twin_batches = make_batches(data.train, 32, generator=torch.Generator().manual_seed(0))
    twin_opt = torch.optim.SGD(twin.parameters(), lr=0.1)
    loop.fit(twin, twin_batches, loss_fn, twin_opt, epochs=epochs, task="regression")
    gap = max(
        float((p - q).abs().max())
        for p, q in zip(model.state_dict().values(), twin.state_dict().values(), strict=True)
    )
    w_best, b_best = least_squares(X, y)  # the best line, in closed form
    best = float(((X[:, 0].double() * w_best[0] + b_best - y.double()) ** 2).mean())

    fig, ax = new_figure()
    per_epoch = len(batches)  # updates per epoch
    updates = range(1, len(batch_losses) + 1)
    ax.plot(updates, batch_losses, lw=0.8, color=PALETTE[5], label="loss of each update's batch")
    ends = [epoch * per_epoch for epoch in range(1, epochs + 1)]
    ax.plot(ends, losses[1:], "o", color=PALETTE[0], label="whole training split, after each epoch")
    ax.axhline(best, color=PALETTE[3], ls="--", label="best line (lstsq)")
    ax.set_yscale("log")
    ax.set_xscale("log")  # the first epoch in detail, the later ones compressed
    ax.set_xlabel(f"update (optimizer step; {per_epoch} per epoch)")
    ax.set_ylabel("training loss (MSE)")
    ax.set_title(f"linear dataset, nn.Linear(1, 1), SGD lr 0.1, batch 32, {len(X)} rows")
    ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "loss_falls.png"))

    result = DemoResult(figures=[out / "loss_falls.png"])
    result.add("loss before", losses[0], "the MSE of the random initial line")
    result.add("loss after", losses[-1], f"the MSE after {epochs} epochs of the five lines")
    result.add("best possible loss", best, "the MSE of the least-squares line: the noise floor")
    result.add(
        "max |loop - looplab.loop.fit|",
        gap,
        "the largest difference between the weights of this loop and of looplab.loop.fit",
    )
    return result


def without_zero_grad(fast: bool = False, out: Path = Path("lessons/1.1")) -> DemoResult:
    """The same loop with line 3 (``zero_grad``) left out: every step adds up all the old
    gradients, so the steps grow and the loss no longer settles."""
    epochs = 5 if fast else 30
    data = load_prepared(Config(dataset="linear", n=400 if fast else 2000))
    assert isinstance(data.train, Split)
    X, y = data.train.X, data.train.y
    curves = {}
    for zero_grad in (True, False):
        torch.manual_seed(0)
        model = nn.Linear(1, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        loss_fn = TaskLoss("regression")
        batches = make_batches(data.train, 32, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            losses = [float(loss_fn(model(X), y))]
        for _ in range(epochs):
            for xb, yb in batches.epoch():
                loss = loss_fn(model(xb), yb)
                if zero_grad:
                    optimizer.zero_grad()
                loss.backward()  # without zero_grad this ADDS to .grad
                optimizer.step()
            with torch.no_grad():
                losses.append(float(loss_fn(model(X), y)))
        curves["with zero_grad" if zero_grad else "without zero_grad"] = losses

    fig, ax = new_figure()
    for (label, losses), colour in zip(curves.items(), (PALETTE[0], PALETTE[3]), strict=True):
        ax.plot(range(epochs + 1), losses, marker="o", ms=3, color=colour, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (MSE)")
    ax.set_title("the five lines, and the same loop without optimizer.zero_grad()")
    ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "without_zero_grad.png"))

    result = DemoResult(figures=[out / "without_zero_grad.png"])
    result.add("loss with zero_grad", curves["with zero_grad"][-1], "the loop as written")
    result.add(
        "loss without zero_grad",
        curves["without zero_grad"][-1],
        "the same loop, gradients never cleared: each step follows the sum of all old ones",
    )
    return result


def kernel_step_source() -> str:
    """The training step of ``looplab.loop.fit``, as its source reads (between the marker
    comment and the bookkeeping that follows it)."""
    lines = inspect.getsource(loop.kernel).splitlines()
    start = next(i for i, line in enumerate(lines) if "---- the training step" in line)
    end = next(i for i in range(start, len(lines)) if "optimizer.step()" in lines[i])
    return "\n".join(line[12:] for line in lines[start : end + 1])


# ---------------------------------------------------------------- exercise 1.1.1: an SGD step


def sgd_step(param: Tensor, grad: Tensor, lr: float) -> Tensor:
    """One step of plain stochastic gradient descent: the new value of ``param``.

    param and grad have the same shape (any shape). Move against the gradient by lr times it,
    and return the new tensor (do not change param in place).

    >>> sgd_step(torch.tensor([1.0, -2.0]), torch.tensor([0.5, -1.0]), lr=0.1)
    tensor([ 0.9500, -1.9000])
    """
    return param - lr * grad


def _step_cases() -> list[Case]:
    def make(shape: tuple[int, ...], lr: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            return torch.randn(shape, generator=g), torch.randn(shape, generator=g), lr

        return Case(f"shape {shape}, lr {lr}", args)

    return [make((3,), 0.1, 0), make((4, 5), 0.01, 1), make((2, 3, 2), 1.5, 2)]


def _torch_sgd(param: Tensor, grad: Tensor, lr: float) -> Outputs:
    p = param.clone().requires_grad_()
    p.grad = grad.clone()
    torch.optim.SGD([p], lr=lr).step()
    return {"result": p.detach()}


SGD_STEP = Exercise(
    id="1.1.1",
    title="one SGD step",
    solution=sgd_step,
    cases=_step_cases,
    oracle=_torch_sgd,
    oracle_name="torch.optim.SGD(lr=lr).step()",
    hints=(
        "the gradient points uphill; a step goes the other way, scaled by the learning rate",
        "return param - lr * grad",
    ),
    mistakes=(
        Mistake(
            "uphill",
            "you stepped uphill: subtract lr * grad (param - lr * grad), do not add it",
            lambda p, g, lr: _torch_sgd(p, -g, lr),
        ),
        Mistake(
            "no learning rate",
            "scale the step by the learning rate: param - lr * grad",
            lambda p, g, lr: _torch_sgd(p, g, 1.0),
        ),
    ),
)

# ---------------------------------------------------------------- exercise 1.1.2: the step


def training_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor
) -> float:
    """One step of the training loop: forward, MSE loss, gradients, update.

    x is (N, d) and y is (N, 1); model maps (N, d) to (N, 1). Use
    F.mse_loss(model(x), y) (import torch.nn.functional as F) as the loss, leave no gradient
    of an earlier step behind, and update the weights with ``optimizer``. Return the loss
    before the update, as a float. The checker calls it three times in a row.

    >>> model = torch.nn.Linear(1, 1, bias=False)
    >>> with torch.no_grad(): _ = model.weight.fill_(0.0)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> training_step(model, opt, torch.tensor([[1.0]]), torch.tensor([[2.0]]))
    4.0
    >>> model.weight  # w <- 0 - 0.1 * 2 * (0 - 2)
    Parameter containing:
    tensor([[0.4000]], requires_grad=True)
    """
    loss = F.mse_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


STEPS = 3  # the learner's step is called this many times: left-over gradients show up


def _model_cases() -> list[Case]:
    def make(n: int, d: int, momentum: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            model = nn.Linear(d, 1)
            with torch.no_grad():
                for p in model.parameters():
                    p.copy_(torch.randn(p.shape, generator=g))
            opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=momentum)
            x = torch.randn(n, d, generator=g)
            return model, opt, x, x @ torch.randn(d, 1, generator=g) + 0.1

        return Case(f"N={n}, d={d}, momentum {momentum}, {STEPS} steps", args)

    return [make(8, 1, 0.0, 0), make(32, 3, 0.9, 1), make(16, 5, 0.0, 2)]


def _observe_steps(fn: object, args: Args) -> Outputs:
    model, opt, x, y = args
    losses = [float(fn(model, opt, x, y)) for _ in range(STEPS)]  # type: ignore[operator]
    weights = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return {"losses": torch.tensor(losses), "weights after": weights}


def _steps_by(order: str) -> object:
    """The oracle's step (order "zbs": zero_grad, backward, step) or a known wrong order."""

    def run(model: nn.Module, opt: torch.optim.Optimizer, x: Tensor, y: Tensor) -> Outputs:
        losses = []
        for _ in range(STEPS):
            loss = F.mse_loss(model(x), y)
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


TRAINING_STEP = Exercise(
    id="1.1.2",
    title="one step of the training loop",
    solution=training_step,
    cases=_model_cases,
    oracle=_steps_by("zbs"),  # type: ignore[arg-type]
    oracle_name="the torch.optim step: zero_grad(), backward(), step()",
    outputs=("losses", "weights after"),
    observe=_observe_steps,
    imports=("import torch", "import torch.nn.functional as F", "from torch import Tensor, nn"),
    hints=(
        "four calls: the loss from a forward pass, then optimizer.zero_grad(), "
        "loss.backward(), optimizer.step()",
        "zero the gradients before backward: backward adds to .grad, it does not overwrite it",
        "loss = F.mse_loss(model(x), y); optimizer.zero_grad(); loss.backward(); "
        "optimizer.step(); return loss.item()",
    ),
    mistakes=(
        Mistake(
            "forgotten zero_grad",
            "gradients add up across backward calls: call optimizer.zero_grad() before "
            "loss.backward(), every step",
            _steps_by("bs"),  # type: ignore[arg-type]
        ),
        Mistake(
            "weights never move",
            "the weights did not move: call optimizer.step() after loss.backward(), and "
            "zero_grad() before backward, not between backward and step",
            _steps_by("bz"),  # type: ignore[arg-type]
        ),
    ),
)

LESSON = Lesson(
    id="1.1",
    title="What a training loop is",
    minutes=15,
    eli5=(
        "A model is a guess with knobs. Training is a loop: make a guess for some examples "
        "(forward), measure how wrong it is (the loss), work out which way each knob makes it "
        "worse (backward), and turn every knob a little the other way (step). Do it again with "
        "the next examples. Five lines of PyTorch, repeated; everything else in a training "
        "library is bookkeeping around them."
    ),
    equations=(
        r"\hat y = f_\theta(x), \qquad L(\theta) = \frac{1}{B} \sum_{i=1}^{B} \ell(\hat y_i, y_i)",
        r"g = \nabla_\theta L(\theta), \qquad \theta \leftarrow \theta - \eta\, g",
    ),
    look_at=(
        "loss_falls.png: the loss drops within the first dozen or so updates; then each "
        "batch's loss scatters around the dashed line, the best any line can do (the noise "
        "in the data), and the whole split's loss sits on it",
        "the loop's weights equal looplab.loop.fit's exactly: fit is these five lines plus "
        "bookkeeping on named events",
        "without_zero_grad.png: leave out one line and old gradients pile up into every step",
    ),
    demos=(
        Demo("the five lines, and looplab.loop.fit", the_five_lines, ("loss_falls.png",)),
        Demo("the loop without zero_grad", without_zero_grad, ("without_zero_grad.png",)),
    ),
    exercises=(SGD_STEP, TRAINING_STEP),
    notes=(
        "The same five lines inside `looplab.loop.fit` (src/looplab/loop/kernel.py), with what "
        "a real loop adds around them: K micro-batches per step (`--accumulate K`, lesson 3.9), "
        "the gradients' all-reduce of a data-parallel run (lesson 3.5) and gradient clipping "
        "(lesson 3.4). With the defaults (K = 1, one process, no clipping) every batch is one "
        "step: forward, loss, zero_grad, backward, step, the five lines:\n\n"
        "```python\n" + kernel_step_source() + "\n```",
    ),
)
