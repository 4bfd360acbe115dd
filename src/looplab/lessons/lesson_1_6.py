"""Lesson 1.6: recap: the pieces of lessons 1.1-1.5 put together into one training run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.colors import LogNorm
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.lessons.exercise import Args, Case, Exercise, Outputs, Verdict
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.lessons.lesson_1_1 import sgd_step
from looplab.lessons.lesson_1_2 import mse_grad, mse_loss
from looplab.lessons.lesson_1_3 import minibatches
from looplab.lessons.lesson_1_4 import loss_grid
from looplab.lessons.lesson_1_5 import numerical_gradient, relative_error
from looplab.manual.linear import least_squares
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.style import PALETTE, new_figure, save
from looplab.run.fit import fit

# ---------------------------------------------------------------- demo


def end_to_end(fast: bool = False, out: Path = Path("lessons/1.6")) -> DemoResult:
    """Linear regression trained with module 1's own functions (the exercises' solutions):
    shuffled mini-batches (1.3.1), the MSE gradient (1.2.2), SGD steps (1.1.1); checked by
    central differences (1.5.1, 1.5.2), drawn on the loss grid (1.4.1), and compared with
    ``looplab.run.fit.fit`` and the closed form."""
    epochs, lr, batch = (5 if fast else 20), 0.05, 8
    config = Config(
        dataset="linear",
        model="linear",
        optimizer="sgd",
        lr=lr,
        epochs=epochs,
        batch_size=batch,
        n=400 if fast else 1000,
    )
    data = load_prepared(config)
    assert isinstance(data.train, Split)
    X, y = data.train.X, data.train.y  # (N, 1), (N,)

    w, b = torch.zeros(1), torch.zeros(())  # start from zeros
    generator = torch.Generator().manual_seed(0)
    path, losses = [(0.0, 0.0)], [float(mse_loss(X @ w + b, y))]
    for _ in range(epochs):
        for idx in minibatches(len(X), batch, generator):  # 1.3.1
            dw, db = mse_grad(X[idx], y[idx], w, b)  # 1.2.2
            w, b = sgd_step(w, dw, lr), sgd_step(b, db, lr)  # 1.1.1
            path.append((float(w[0]), float(b)))
        losses.append(float(mse_loss(X @ w + b, y)))  # 1.2.1

    # is the hand-derived gradient right at the final weights? (1.5.1, 1.5.2)
    X64, y64 = X.double(), y.double()
    wb = torch.cat([w, b.reshape(1)]).double()  # (2,): [w, b]
    numeric = numerical_gradient(lambda v: mse_loss(X64 @ v[:1] + v[1], y64), wb, 1e-6)
    analytic = torch.cat([g.reshape(-1) for g in mse_grad(X64, y64, wb[:1], wb[1])])
    check = float(relative_error(analytic, numeric))

    # the same training by the library, and the closed form
    model = build_model(ModelSpec(1, 1), seed=0)
    history = fit(model, data, config)
    w_best, b_best = least_squares(X, y)
    best = float(mse_loss(X64 @ w_best + b_best, y64))

    ws = torch.linspace(float(w_best[0]) - 2.5, float(w_best[0]) + 2.5, 41 if fast else 101)
    bs = torch.linspace(float(b_best) - 1.5, float(b_best) + 1.5, 41 if fast else 101)
    grid = loss_grid(X[:, 0], y, ws, bs)  # (len(bs), len(ws)): 1.4.1
    fig, ax = new_figure(6.4, 5.0)
    ax.grid(False)
    levels = np.geomspace(float(grid.min()), float(grid.max()), 20)  # log-spaced: floor and walls
    filled = ax.contourf(ws.numpy(), bs.numpy(), grid.numpy(), levels=levels, norm=LogNorm())
    fig.colorbar(filled, ax=ax, label="training loss (MSE, log scale)", format="%.3g")
    p = np.array(path)
    ax.plot(p[:, 0], p[:, 1], color="white", lw=0.8, label=f"hand loop, {len(p) - 1} updates")
    ax.plot(
        float(w_best[0]),
        float(b_best),
        "*",
        color=PALETTE[1],
        ms=14,
        mec="black",
        label="least squares",
    )
    ax.set_xlabel("weight w")
    ax.set_ylabel("bias b")
    ax.set_title(f"linear dataset: mini-batch SGD by hand, batch {batch}, lr {lr:g}")
    ax.legend(loc="lower right")
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "recap_path.png"))

    result = DemoResult(figures=[out / "recap_path.png"])
    result.add("hand loop loss", losses[-1], f"after {epochs} epochs of the hand-made loop")
    result.add(
        "looplab fit loss",
        history.last["train_loss"],
        "looplab.run.fit.fit on the same data and settings (its own shuffling: close, not equal)",
    )
    result.add("least-squares loss", best, "the closed form: the floor both approach")
    result.add(
        "|w - w_lstsq|",
        abs(float(w[0] - w_best[0])),
        "the hand loop's slope vs the closed form's: SGD noise keeps it near, not on it",
    )
    result.add(
        "gradient check",
        check,
        "relative error of the hand gradient vs central differences, at the final weights",
    )
    return result


# ---------------------------------------------------------------- exercise 1.6.1


def fit_line_sgd(
    X: Tensor, y: Tensor, lr: float, epochs: int, batch_size: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Linear regression by mini-batch SGD, every piece by hand: the whole loop of module 1.

    X is (N, d), y is (N,). Start from w = zeros (d,), b = 0. Each epoch: shuffle the rows
    with ``generator``, cut them into batches of batch_size (the last one shorter), and for
    each batch step w and b against the gradient of that batch's mean squared error. Return
    (w, b) after ``epochs`` epochs.

    >>> X = torch.tensor([[0.0], [1.0], [2.0]]); y = 2 * X[:, 0] + 1
    >>> w, b = fit_line_sgd(X, y, 0.1, 300, 2, torch.Generator().manual_seed(0))
    >>> round(float(w[0]), 3), round(float(b), 3)
    (2.0, 1.0)
    """
    n, d = X.shape
    w, b = torch.zeros(d), torch.zeros(())
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            r = X[idx] @ w + b - y[idx]  # (B,)
            w = w - lr * 2 / len(idx) * (X[idx].T @ r)
            b = b - lr * 2 / len(idx) * r.sum()
    return w, b


def _fit_cases() -> list[Case]:
    def make(n: int, d: int, size: int, lr: float, epochs: int, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            X = torch.randn(n, d, generator=g)
            y = X @ torch.randn(d, generator=g) + 0.7  # no noise: SGD can land exactly
            return X, y, lr, epochs, size, torch.Generator().manual_seed(seed)

        return Case(f"N={n}, d={d}, batch {size}, lr {lr}, {epochs} epochs", args)

    return [make(64, 1, 8, 0.1, 60, 0), make(100, 3, 16, 0.1, 80, 1), make(37, 2, 5, 0.05, 100, 2)]


def _judge_fit(got: Outputs, args: Args) -> Verdict | None:
    """Close to the least-squares solution (noise-free data: every batch's gradient is zero
    there, so SGD converges to it)."""
    X, y = args[0], args[1]
    w_best, b_best = least_squares(X, y)  # the oracle: torch.linalg.lstsq
    w, b = got["w"].double(), got["b"].double()
    if w.shape != w_best.shape or b.shape != ():
        shapes = (
            f"w has shape {tuple(w.shape)} and b {tuple(b.shape)}, not {tuple(w_best.shape)} and ()"
        )
        return shapes, "w is (d,) (one weight per column of X), b a scalar tensor"
    gap = max(float((w - w_best).abs().max()), float((b - b_best).abs()))
    if gap < 2e-3:
        return None
    loss = float(((X.double() @ w + b - y.double()) ** 2).mean())
    start = float((y.double() ** 2).mean())  # the loss at w = 0, b = 0
    what = (
        f"(w, b) is {gap:.3g} from the least-squares solution (torch.linalg.lstsq); the "
        f"loss is {loss:.3g}, it was {start:.3g} at the start"
    )
    if not np.isfinite(loss) or loss > start:
        return what, (
            "the loss grew: step against the gradient (w - lr * dw), and average "
            "over the batch (2/B X.T @ r), do not sum"
        )
    return what, (
        "not there yet: does every epoch visit every row, including the last short "
        "batch, with a fresh shuffle?"
    )


FIT_LINE_SGD = Exercise(
    id="1.6.1",
    title="the whole loop: linear regression by mini-batch SGD",
    solution=fit_line_sgd,
    cases=_fit_cases,
    oracle_name="torch.linalg.lstsq on noise-free data",
    outputs=("w", "b"),
    judge=_judge_fit,
    hints=(
        "combine 1.3.1 (batches of shuffled rows), 1.2.2 (the gradient of the batch) and "
        "1.1.1 (the step)",
        "per epoch: order = torch.randperm(n, generator=generator); per batch idx: "
        "r = X[idx] @ w + b - y[idx], then w -= lr * 2/len(idx) * X[idx].T @ r",
    ),
)

LESSON = Lesson(
    id="1.6",
    title="Recap: the elementary loop",
    minutes=25,
    eli5=(
        "You now have every piece of a training loop and a way to check each one: the loss "
        "(1.2), its gradient (1.2), a step (1.1), batches (1.3), a map of where the steps go "
        "(1.4), and a test that the gradient is right (1.5). Put together, they train a model "
        "as well as the library does, and the closed-form answer says how close both got."
    ),
    equations=(
        r"\text{for each epoch: for each batch } \mathcal{B}: \quad "
        r"\theta \leftarrow \theta - \eta \nabla_\theta \frac{1}{|\mathcal{B}|} "
        r"\sum_{i \in \mathcal{B}} \ell_i(\theta)",
        r"\max_i \frac{|g_i - \hat g_i|}{\max(|g_i|, |\hat g_i|, \text{floor})} \ll 1",
    ),
    look_at=(
        "recap_path.png: the hand loop's path runs down the bowl from (0, 0) and then "
        "wanders around the least-squares star: mini-batch noise",
        "the hand loop and looplab's fit reach about the same loss; both sit just above "
        "the closed form's",
        "the gradient check at the final weights is tiny: the derivation of 1.2 holds",
    ),
    demos=(Demo("the elementary loop, end to end", end_to_end, ("recap_path.png",)),),
    exercises=(FIT_LINE_SGD,),
)
