"""Lesson 2.6: regularization: weight decay, dropout and early stopping, and what each does to
the gap between training and validation loss."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from looplab.data.batches import make_batches
from looplab.data.prepared import load_prepared
from looplab.experiments.regularization import REMEDIES, overfit_config
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.loop.early_stopping import EarlyStopping
from looplab.loop.metrics import evaluate
from looplab.models.losses import TaskLoss
from looplab.models.mlp import build_model
from looplab.plots.style import DPI, PALETTE, save
from looplab.run.build import model_spec
from looplab.run.fit import fit

# ---------------------------------------------------------------- demos


def remedies_compared(fast: bool = False, out: Path = Path("lessons/2.6")) -> DemoResult:
    """``looplab regularize``'s experiment: a 2-128-128-128-1 MLP on 60 noisy moons (60 more
    for validation), Adam lr 0.01, batch 32, trained as it is and with each remedy. The final
    model (early stopping's best) is measured on both splits in eval mode."""
    shown = ("none", "weight decay 1e-2", "dropout 0.3", "early stopping (patience 20)")
    curves, finals, norms = {}, {}, {}
    for name in shown:
        config = overfit_config(epochs=100 if fast else 300, **REMEDIES[name])
        data = load_prepared(config)
        model = build_model(model_spec(config, data), seed=config.seed)
        history = fit(model, data, config)
        curves[name] = (history.column("train_loss"), history.column("val_loss"))
        loss_fn = TaskLoss(data.task)
        assert data.val is not None
        finals[name] = {
            split: evaluate(model, make_batches(rows, 4096, shuffle=False), loss_fn, data.task)
            for split, rows in (("train", data.train), ("val", data.val))
        }
        weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
        norms[name] = float(torch.sqrt(sum((w.detach() ** 2).sum() for w in weights)))  # type: ignore[arg-type]

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), dpi=DPI, layout="constrained")
    for (name, (train, val)), colour in zip(curves.items(), PALETTE, strict=False):
        epochs = np.arange(1, len(val) + 1)
        left.plot(epochs, val, color=colour, lw=2, label=f"{name}: validation")
        left.plot(epochs, train, color=colour, lw=0.8, ls="--")
    left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("loss (solid: validation, dashed: training)")
    left.set_title("moons, 60 training points, MLP 128-128-128")
    left.legend(fontsize=7)
    at = np.arange(len(shown))
    for k, (split, colour) in enumerate((("train", PALETTE[0]), ("val", PALETTE[3]))):
        values = [finals[name][split]["loss"] for name in shown]
        right.bar(at + (k - 0.5) * 0.38, values, 0.38, color=colour, label=f"{split} loss")
    right.set_xticks(at, [n.replace(" (", "\n(") for n in shown], fontsize=8)
    right.set_ylabel("loss of the final model (eval mode)")
    right.set_title("the gap between the bars is what regularization closes")
    right.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "regularization.png"))

    result = DemoResult(figures=[out / "regularization.png"])
    for name in shown:
        on_train, on_val = finals[name]["train"], finals[name]["val"]
        result.add(
            f"gap, {name}",
            on_val["loss"] - on_train["loss"],
            f"validation loss {on_val['loss']:.3g} - training loss {on_train['loss']:.3g}; "
            f"validation accuracy {on_val['accuracy']:.3g}, after {len(curves[name][1])} epochs",
        )
    result.add(
        "weight norm, none / weight decay",
        norms["none"] / norms["weight decay 1e-2"],
        "weight decay keeps the weights small: ||W|| over all layers, without vs with it",
    )
    val_none = curves["none"][1]
    best = int(np.argmin(val_none)) + 1
    stopped = len(curves["early stopping (patience 20)"][1])
    result.add(
        "early stopping's last epoch",
        stopped,
        "the epoch at which 20 epochs in a row had not improved the validation loss",
    )
    result.add(
        "best validation epoch, no remedy",
        best,
        f"validation loss {min(val_none):.3g} there, {val_none[-1]:.3g} at the end; early "
        f"stopping with patience 20 stopped at epoch {stopped}",
    )
    return result


def dropout_train_and_eval(fast: bool = False, out: Path = Path("lessons/2.6")) -> DemoResult:
    """``nn.Dropout(0.3)`` on a tensor of ones: in training mode it zeroes each entry with
    probability 0.3 and scales the rest by 1 / 0.7, so the mean stays 1; in eval mode it does
    nothing. The scaling is why nothing changes at inference."""
    p, n = 0.3, 100_000
    drop = nn.Dropout(p)
    ones = torch.ones(n)
    torch.manual_seed(0)
    trained = drop.train()(ones)  # (n,): 0 or 1 / (1 - p)
    evaluated = drop.eval()(ones)
    kept = trained[trained > 0]

    result = DemoResult()
    result.add(
        "share zeroed, training mode",
        float((trained == 0).float().mean()),
        f"close to p = {p:g}: each entry dropped independently (binomial std "
        f"{math.sqrt(p * (1 - p) / n):.2g})",
    )
    result.add(
        "value kept, training mode",
        float(kept.max()),
        f"1 / (1 - p) = {1 / (1 - p):.6g}: the survivors make up for the dropped",
    )
    result.add("mean, training mode", float(trained.mean()), "about 1: the expectation is kept")
    result.add(
        "max |eval output - input|",
        float((evaluated - ones).abs().max()),
        "eval mode passes everything through unchanged",
    )
    return result


# ---------------------------------------------------------------- exercise 2.6.1: dropout


def dropout(x: Tensor, p: float, training: bool, u: Tensor) -> Tensor:
    """Inverted dropout's forward pass, with its randomness given.

    x is any shape; p in [0, 1) is the probability to drop an entry; u has x's shape, uniform
    in [0, 1): entry i is dropped when u[i] < p. In training mode, zero the dropped entries and
    divide the kept ones by (1 - p), so the expected output equals x; in eval mode
    (training False) return x unchanged.

    >>> x = torch.tensor([1.0, 2.0, 3.0, 4.0]); u = torch.tensor([0.1, 0.9, 0.6, 0.2])
    >>> dropout(x, 0.5, True, u)
    tensor([0., 4., 6., 0.])
    """
    if not training:
        return x
    return x * (u >= p) / (1 - p)


def _dropout_cases() -> list[Case]:
    def make(shape: tuple[int, ...], p: float, training: bool, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            x = torch.randn(shape, generator=g)
            return x, p, training, torch.rand(shape, generator=g)

        return Case(f"x {shape}, p {p:g}, {'training' if training else 'eval'}", args)

    return [
        make((10,), 0.5, True, 0),
        make((4, 8), 0.2, True, 1),
        make((3, 5), 0.3, False, 2),
        make((2, 3, 4), 0.7, True, 3),
    ]


def _torch_scaled(x: Tensor, p: float, training: bool, u: Tensor, keep: str = "u >= p") -> Outputs:
    """The given mask, scaled as torch.nn.functional.dropout scales what it keeps (its kept
    value, read off F.dropout on ones); eval mode is F.dropout(training=False)."""
    if not training:
        return {"result": F.dropout(x, p, training=False)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        scale = F.dropout(torch.ones(10_000), p, training=True).max()  # 1 / (1 - p) in torch
    mask = (u >= p) if keep == "u >= p" else (u < p)
    return {"result": x * mask * scale}


DROPOUT = Exercise(
    id="2.6.1",
    title="dropout's forward pass, training and eval",
    solution=dropout,
    cases=_dropout_cases,
    oracle=_torch_scaled,
    oracle_name="the mask u >= p scaled as torch.nn.functional.dropout scales what it keeps",
    hints=(
        "two modes: eval returns x as it is; training keeps the entries with u >= p and "
        "makes them larger so the mean does not change",
        "return x if not training, else x * (u >= p) / (1 - p)",
    ),
    mistakes=(
        Mistake(
            "no scaling",
            "divide the kept entries by (1 - p): without it the output's mean shrinks to "
            "(1 - p) x in training and jumps back at eval",
            lambda x, p, t, u: {"result": x * (u >= p) if t else x},
        ),
        Mistake(
            "multiplied by (1 - p)",
            "inverted dropout divides by (1 - p), it does not multiply: the kept entries grow",
            lambda x, p, t, u: {"result": x * (u >= p) * (1 - p) if t else x},
        ),
        Mistake(
            "dropped in eval mode",
            "in eval mode (training False) dropout does nothing: return x unchanged",
            lambda x, p, t, u: {"result": x * (u >= p) / (1 - p)},
        ),
        Mistake(
            "p kept, not dropped",
            "p is the probability to drop: keep the entries with u >= p (you kept u < p)",
            lambda x, p, t, u: _torch_scaled(x, p, t, u, keep="u < p"),
        ),
    ),
)

# ---------------------------------------------------------------- exercise 2.6.2: weight decay


def sgd_step_with_decay(w: Tensor, grad: Tensor, lr: float, weight_decay: float) -> Tensor:
    """One SGD step with L2 weight decay, as torch.optim.SGD(weight_decay=...) takes it.

    The decay adds (weight_decay / 2) * ||w||^2 to the loss, so weight_decay * w to its
    gradient: w <- w - lr * (grad + weight_decay * w). w and grad have the same shape;
    return the new w.

    >>> sgd_step_with_decay(torch.tensor([1.0, -2.0]), torch.tensor([0.5, 0.5]), 0.1, 0.1)
    tensor([ 0.9400, -2.0300])
    """
    return w - lr * (grad + weight_decay * w)


def _decay_cases() -> list[Case]:
    def make(shape: tuple[int, ...], lr: float, wd: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            return torch.randn(shape, generator=g), torch.randn(shape, generator=g), lr, wd

        return Case(f"w {shape}, lr {lr:g}, weight_decay {wd:g}", args)

    return [make((5,), 0.1, 0.01, 0), make((4, 3), 0.5, 0.1, 1), make((2, 2, 2), 0.01, 1.0, 2)]


def _torch_decay(w: Tensor, grad: Tensor, lr: float, wd: float) -> Outputs:
    p = w.clone().requires_grad_()
    p.grad = grad.clone()
    torch.optim.SGD([p], lr=lr, weight_decay=wd).step()
    return {"result": p.detach()}


WEIGHT_DECAY = Exercise(
    id="2.6.2",
    title="an SGD step with L2 weight decay",
    solution=sgd_step_with_decay,
    cases=_decay_cases,
    oracle=_torch_decay,
    oracle_name="torch.optim.SGD(lr=lr, weight_decay=weight_decay).step()",
    hints=(
        "weight decay is one more term in the gradient, pulling each weight towards 0",
        "return w - lr * (grad + weight_decay * w)",
    ),
    mistakes=(
        Mistake(
            "decay pushes outwards",
            "the decay term pulls w towards 0: add + weight_decay * w to the gradient (then "
            "the step subtracts it)",
            lambda w, g, lr, wd: {"result": w - lr * (g - wd * w)},
        ),
        Mistake(
            "factor 2",
            "torch's weight_decay is the gradient of (weight_decay / 2) ||w||^2, that is "
            "weight_decay * w, not 2 * weight_decay * w",
            lambda w, g, lr, wd: _torch_decay(w, g, lr, 2 * wd),
        ),
        Mistake(
            "decay not scaled by lr",
            "the decay is part of the gradient, so it is scaled by lr too: "
            "w - lr * (grad + weight_decay * w)",
            lambda w, g, lr, wd: {"result": w - lr * g - wd * w},
        ),
    ),
)

# ---------------------------------------------------------------- exercise 2.6.3: early stopping


def early_stopping_epochs(val_losses: list[float], patience: int) -> tuple[int, int]:
    """Early stopping's rule, replayed on a list of validation losses (epoch 1 first).

    An epoch improves when its loss is strictly below the best so far; after `patience`
    epochs in a row without improvement, training stops at the end of that epoch. Return
    (the epoch training stops at, the best epoch, whose weights are restored), both 1-based;
    if it never stops early, the first is len(val_losses).

    >>> early_stopping_epochs([1.0, 0.8, 0.9, 0.85, 0.7, 0.75], patience=2)
    (4, 2)
    """
    best, best_epoch, bad = math.inf, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch


def _curve_cases() -> list[Case]:
    def make(name: str, losses: list[float], patience: int) -> Case:
        return Case(f"{name}, patience {patience}", lambda: (list(losses), patience))

    g = torch.Generator().manual_seed(0)
    u_shape = (torch.linspace(1, 0.3, 30) + 0.001 * torch.arange(30) ** 2).tolist()
    noisy = (torch.linspace(1, 0.5, 40) + 0.05 * torch.randn(40, generator=g)).tolist()
    return [
        make("falls then rises", u_shape, 3),
        make("noisy", noisy, 4),
        make("with ties", [1.0, 0.9, 0.9, 0.8, 0.8, 0.8, 0.85, 0.7], 2),
        make("always improving", [1.0, 0.9, 0.8, 0.7], 2),
        make("worse at once", [0.5, 0.6, 0.7, 0.8, 0.4], 1),
    ]


def _replay(val_losses: list[float], patience: int, extra: int = 0, ties: bool = False) -> Outputs:
    """looplab's EarlyStopping, replayed epoch by epoch (``extra`` and ``ties`` are mistakes:
    stopping ``extra`` epochs later, or counting a tie as an improvement)."""
    rule, model = EarlyStopping(patience + extra), nn.Linear(1, 1)
    stop = len(val_losses)
    for epoch, loss in enumerate(val_losses, start=1):
        if ties and loss == rule.best_loss:
            rule.best_epoch, rule.bad_epochs = epoch, 0
            continue
        if rule.update(epoch, loss, model):
            stop = epoch
            break
    return {"stop epoch": torch.tensor(stop), "best epoch": torch.tensor(rule.best_epoch)}


EARLY_STOPPING = Exercise(
    id="2.6.3",
    title="early stopping's rule",
    solution=early_stopping_epochs,
    cases=_curve_cases,
    oracle=_replay,
    oracle_name="looplab.loop.early_stopping.EarlyStopping, the loop's own rule, replayed",
    outputs=("stop epoch", "best epoch"),
    imports=("import math",),
    hints=(
        "keep three numbers as you walk the list: the best loss, its epoch, and how many "
        "epochs in a row have not beaten it",
        "a strictly lower loss resets the count to 0; otherwise count += 1 and stop when "
        "count reaches patience",
    ),
    mistakes=(
        Mistake(
            "one epoch late",
            "stop as soon as `patience` epochs in a row failed to improve (count >= patience), "
            "not one epoch later",
            lambda losses, patience: _replay(losses, patience, extra=1),
        ),
        Mistake(
            "ties count as improvement",
            "an epoch improves only when its loss is strictly below the best so far: a tie "
            "does not reset the count",
            lambda losses, patience: _replay(losses, patience, ties=True),
        ),
    ),
)

LESSON = Lesson(
    id="2.6",
    title="Regularization",
    minutes=25,
    eli5=(
        "A big network given few examples can learn them by heart: its training loss goes to "
        "zero while its loss on new examples climbs. Regularization makes memorizing harder. "
        "Weight decay pulls every weight a little towards zero at each step, so only weights "
        "the data keeps asking for stay large. Dropout switches off random units while "
        "training, so no unit can rely on another. Early stopping watches the validation "
        "loss and keeps the weights from the epoch where it was lowest."
    ),
    equations=(
        r"L_{\text{wd}}(w) = L(w) + \frac{\lambda}{2} \lVert w \rVert^2, \qquad "
        r"w \leftarrow w - \eta\, (\nabla L(w) + \lambda w)",
        r"\mathrm{dropout}(h)_i = \frac{m_i\, h_i}{1 - p}, \quad m_i \sim \mathrm{Bernoulli}(1 - p)"
        r", \qquad \mathbb{E}[\mathrm{dropout}(h)] = h",
        r"\text{stop after epoch } t \text{ when } \min_{s \le t} L_{\text{val}}(s) "
        r"= \min_{s \le t - P} L_{\text{val}}(s) \ \text{(no improvement for } P "
        r"\text{ epochs)}",
        r"\text{gap} = L_{\text{val}} - L_{\text{train}}",
    ),
    look_at=(
        "regularization.png, left: without a remedy the training loss (dashed) falls towards "
        "0 while the validation loss turns and climbs: memorization",
        "regularization.png, right: weight decay and early stopping close most of the gap; "
        "dropout narrows it",
        "early stopping restores the weights of the best validation epoch of the same run "
        "(same seed, same batches), 20 epochs before it stopped",
        "dropout keeps the mean: about 30% zeros, the rest 1/0.7, mean about 1; eval mode "
        "changes nothing",
    ),
    demos=(
        Demo("weight decay, dropout, early stopping", remedies_compared, ("regularization.png",)),
        Demo("dropout in training and eval mode", dropout_train_and_eval),
    ),
    exercises=(DROPOUT, WEIGHT_DECAY, EARLY_STOPPING),
)
