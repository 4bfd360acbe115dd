"""Lesson 3.7: modern regularization: label smoothing, mixup and augmentation, decoupled weight
decay, averaged weights (EMA, SWA), and each remedy measured on mnist-5k over seeds."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from looplab.data.augment import Augment
from looplab.data.mixup import Mixup
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.experiments.image_regularization import (
    compare_image_remedies,
    image_config,
    image_remedies,
)
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.models.cnn import build_network
from looplab.models.losses import TaskLoss
from looplab.plots.image_regularization import remedy_bars
from looplab.plots.style import DPI, PALETTE, save
from looplab.run.averaging import weight_average
from looplab.run.build import model_spec
from looplab.run.evaluation import evaluate_splits
from looplab.run.fit import fit

# ---------------------------------------------------------------- demos


def label_smoothing(fast: bool = False, out: Path = Path("lessons/3.7")) -> DemoResult:
    """Label smoothing moves a little of the target's probability from the true class to all
    classes. First looplab's loss (``TaskLoss("multiclass", 0.1)``) against PyTorch's
    ``F.cross_entropy(label_smoothing=0.1)`` and the closed form, on random logits; then the
    MLP 784-256-10 of the remedies' table trained on mnist-5k without and with it, and how sure
    of itself each one is on the validation images (the mean of the largest softmax
    probability)."""
    eps = 0.1
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(64, 10, generator=g, dtype=torch.float64)  # (batch, classes)
    y = torch.randint(0, 10, (64,), generator=g)  # (batch,)
    torch_says = F.cross_entropy(logits, y, label_smoothing=eps)
    log_p = torch.log_softmax(logits, dim=1)  # (batch, classes)
    closed = ((1 - eps) * -log_p[torch.arange(64), y] + eps * -log_p.mean(dim=1)).mean()
    result = DemoResult(figures=[out / "confidence.png"])
    result.add(
        "|looplab's smoothed loss - F.cross_entropy|",
        float((TaskLoss("multiclass", eps)(logits, y) - torch_says).abs()),
        f"eps {eps}, 64 rows of 10 classes (float64); looplab's loss is F.cross_entropy's",
    )
    result.add(
        "|closed form - F.cross_entropy|",
        float((closed - torch_says).abs()),
        "(1 - eps) CE + eps mean_k(-log p_k): the smoothed target 1 - eps + eps/K on the true "
        "class and eps/K on each other",
    )

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=DPI, layout="constrained")
    for smoothing, colour in ((0.0, PALETTE[0]), (eps, PALETTE[1])):
        config = image_config(fast, label_smoothing=smoothing)
        data = load_prepared(config)
        assert isinstance(data.val, Split)
        model = build_network(model_spec(config, data), seed=0)
        fit(model, data, config)
        with torch.no_grad():
            p = torch.softmax(model(data.val.X), dim=1)  # (val rows, 10)
        confidence = p.max(dim=1).values  # (val rows,)
        accuracy = float((p.argmax(dim=1) == data.val.y).float().mean())
        label = "no smoothing" if smoothing == 0 else f"smoothing {smoothing:g}"
        result.add(
            f"mean confidence on validation, {label}",
            float(confidence.mean()),
            f"validation accuracy {accuracy:.3f}; the share of images predicted with more "
            f"than 99% confidence: {float((confidence > 0.99).float().mean()):.2f}",
        )
        ax.hist(confidence.numpy(), bins=40, range=(0, 1), alpha=0.6, color=colour,
                label=f"{label} (accuracy {accuracy:.3f})")  # fmt: skip
    ax.set_xlabel("largest softmax probability of a validation image")
    ax.set_ylabel("images")
    ax.set_title(f"label smoothing caps confidence ({config.epochs} epochs, mnist-5k)")
    ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "confidence.png"))
    result.add(
        "largest confidence a smoothed target asks for",
        1 - eps + eps / 10,
        "1 - eps + eps/K: the model is never pushed past it, so its logits stay finite",
    )
    return result


def mixup_and_augmentation(fast: bool = False, out: Path = Path("lessons/3.7")) -> DemoResult:
    """Two remedies that change the data, not the model. Mixup (``looplab.data.mixup``) blends
    each image with a partner of the same batch, and their one-hot labels alike; augmentation
    (``looplab.data.augment``) shifts and turns each image a little, anew each epoch. Both are
    applied to the first six training images of mnist-5k and checked against their formulas."""
    data = load_prepared(image_config())
    assert isinstance(data.train, Split)
    X, y = data.train.X[:6], data.train.y[:6]  # (6, 1, 28, 28), (6,)
    lam, partners = 0.7, torch.tensor([1, 2, 3, 4, 5, 0])  # each image's partner: the next one
    mixed_x, mixed_y = Mixup(alpha=0.2, classes=10).apply(X, y, lam, partners)
    one_hot = F.one_hot(y, 10).float()  # (6, 10)
    augment = Augment(shift=2, rotate=10.0)
    params = augment.draw(6, torch.Generator().manual_seed(0))  # (6, 3): shift x, y, angle
    moved = augment.apply(X, params)
    shift_only = augment.apply(X, torch.tensor([[2.0, 0.0, 0.0]] * 6))  # 2 px right, no turn

    fig, axes = plt.subplots(3, 6, figsize=(9, 5.2), dpi=DPI, layout="constrained")
    for i in range(6):
        top = mixed_y[i].topk(2)
        rows = (
            (X[i], f"label {int(y[i])}"),
            (mixed_x[i], f"{float(top.values[0]):.1f} x {int(top.indices[0])} + "
                         f"{float(top.values[1]):.1f} x {int(top.indices[1])}"),
            (moved[i], f"({int(params[i, 0])}, {int(params[i, 1])}) px, "
                       f"{math.degrees(float(params[i, 2])):.0f} deg"),
        )  # fmt: skip
        for row, (image, title) in enumerate(rows):
            axes[row, i].imshow(image[0].numpy(), cmap="gray_r")
            axes[row, i].set_title(title, fontsize=8)
            axes[row, i].axis("off")
    fig.suptitle("mnist-5k: the images (top), mixup with lambda 0.7 (middle), shifted and "
                 "turned (bottom)")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "mixup_and_shifts.png"))

    result = DemoResult(figures=[out / "mixup_and_shifts.png"])
    result.add(
        "max |mixed x - (lam x + (1 - lam) x[partner])|",
        float((mixed_x - (lam * X + (1 - lam) * X[partners])).abs().max()),
        "the formula, lam = 0.7",
    )
    result.add(
        "max |mixed y - (lam onehot(y) + (1 - lam) onehot(y[partner]))|",
        float((mixed_y - (lam * one_hot + (1 - lam) * one_hot[partners])).abs().max()),
        "the labels are mixed with the same lam: the target says how much of each digit is "
        "in the picture",
    )
    result.add(
        "max |2 px shift - the image moved 2 columns right|",
        float((shift_only[..., :, 2:] - X[..., :, :-2]).abs().max()),
        "a whole-pixel shift of the sampling grid reads each pixel again, to float32 rounding "
        "(the 2 new columns on the left repeat the border, the background)",
    )
    return result


def adamw_is_not_adam_l2(fast: bool = False, out: Path = Path("lessons/3.7")) -> DemoResult:
    """The same weight decay coefficient, two different regularizers. ``Adam(weight_decay)``
    adds the L2 gradient lambda w to the loss's gradient, and Adam then divides it by its
    running size; ``AdamW`` shrinks the weights outside the adaptive step. Shown on three
    weights with no loss at all (only the decay acts), then on the image MLP trained both ways
    from the same seed and batches."""
    lr, decay, steps = 0.01, 0.1, 100
    start = torch.tensor([0.01, 1.0, 100.0], dtype=torch.float64)
    after = {}
    for name in ("Adam + L2", "AdamW"):
        w = start.clone().requires_grad_(True)
        rule = torch.optim.Adam if name == "Adam + L2" else torch.optim.AdamW
        opt = rule([w], lr=lr, weight_decay=decay)
        for _ in range(steps):
            opt.zero_grad()
            (0 * w).sum().backward()  # no loss gradient: only the decay moves w
            opt.step()
        after[name] = w.detach()
    result = DemoResult()
    for i, w0 in enumerate(start.tolist()):
        result.add(
            f"AdamW: w / w0 after {steps} steps, w0 = {w0:g}",
            float(after["AdamW"][i] / w0),
            f"(1 - lr lambda)^{steps} = {(1 - lr * decay) ** steps:.4f}: every weight shrinks "
            "by the same factor, in proportion to its size",
        )
        result.add(
            f"Adam + L2: w0 - w after {steps} steps, w0 = {w0:g}",
            w0 - float(after["Adam + L2"][i]),
            f"Adam divides lambda w by its running size, so a step moves at most about lr = "
            f"{lr} whatever the weight's size ({steps} steps: at most about {steps * lr:g})",
        )
    for name in ("AdamW", "Adam + L2"):
        moved = start - after[name]  # (3,)
        result.add(
            f"{name}: how far w0 = 100 moved / how far w0 = 1 moved",
            float(moved[2] / moved[1]),
            "100 for a decay in proportion to the weight"
            if name == "AdamW"
            else "near 1: a weight 100 times larger is decayed about as much, not 100 times more",
        )

    weights = {}
    for optimizer in ("adam", "adamw"):
        config = image_config(fast, optimizer=optimizer, weight_decay=decay)
        data = load_prepared(config)
        model = build_network(model_spec(config, data), seed=0)
        fit(model, data, config)
        weights[optimizer] = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        accuracy = evaluate_splits(model, data)["validation"]["accuracy"]
        result.add(
            f"weight norm after training, {optimizer}",
            float(weights[optimizer].norm()),
            f"image MLP, weight_decay {decay}, {config.epochs} epochs; validation accuracy "
            f"{accuracy:.3f}",
        )
    result.add(
        "max |Adam + L2 - AdamW| weight",
        float((weights["adam"] - weights["adamw"]).abs().max()),
        "same seed, same batches, same lambda: different weights",
    )
    return result


def ema_and_swa(fast: bool = False, out: Path = Path("lessons/3.7")) -> DemoResult:
    """Averaged weights: the image MLP trained once with an exponential moving average of its
    weights after every step (EMA, ``AveragedModel`` with ``get_ema_multi_avg_fn``) and once
    with SWA (the plain average of the weights at the end of each epoch of the second half,
    the learning rate held by ``SWALR``); the last weights and the average are both measured
    on the validation images. (The callbacks are looplab's ``--ema-decay`` and
    ``--swa-start``, told not to swap the average in, so both can be measured.)"""
    decay = 0.9 if fast else 0.99  # fast mode's 16 steps are too few for a memory of 100
    result = DemoResult()
    for kind in ("EMA", "SWA"):
        config = image_config(fast)
        swa_start = 1 if fast else config.epochs // 2 + 1  # fast: both epochs averaged
        change = {"ema_decay": decay} if kind == "EMA" else {"swa_start": swa_start}
        config = config.replace(**change).validate()
        data = load_prepared(config)
        model = build_network(model_spec(config, data), seed=0)
        averager = weight_average(config, swap_at_end=False)
        assert averager is not None and averager.averaged is None
        history = fit(model, data, config, [averager])
        assert averager.averaged is not None
        last = evaluate_splits(model, data)["validation"]
        mean = evaluate_splits(averager.averaged.module, data)["validation"]
        steps = config.epochs * math.ceil(len(data.train) / 64)
        what = (
            f"decay {decay:g} after each of {steps} steps (a memory of about 1 / (1 - decay) = "
            f"{1 / (1 - decay):.0f} steps)"
            if kind == "EMA"
            else f"{averager.count} epoch ends averaged (epochs {config.swa_start}-{len(history)})"
        )
        result.add(
            f"validation accuracy, {kind} - last weights",
            mean["accuracy"] - last["accuracy"],
            f"{kind}: {what}; {mean['accuracy']:.4f} against {last['accuracy']:.4f}",
        )
        result.add(
            f"validation loss, {kind} - last weights",
            mean["loss"] - last["loss"],
            f"{mean['loss']:.4f} against {last['loss']:.4f}: "
            + ("lower: the average sits nearer the middle of the region where the "
               "mini-batches' noise makes the weights wander"
               if mean["loss"] < last["loss"] else "not lower: in a run this short the weights "
               "still improve fast and the average lags behind them; averaging pays once "
               "they hover around a minimum"),
        )  # fmt: skip
    return result


def remedies_over_seeds(fast: bool = False, out: Path = Path("lessons/3.7")) -> DemoResult:
    """Every remedy of this lesson on the same run (the MLP 784-256-10 on 1,000 mnist-5k
    images for 15 epochs; 500 images, 2 epochs and five remedies in fast mode), over 3 seeds
    (1 in fast mode):
    the validation accuracy and the generalization gap (training minus validation accuracy) of
    the final model, from looplab's regularize experiment (``looplab regularize --dataset
    mnist-5k``). A difference smaller than about two standard deviations is noise."""
    seeds = (0,) if fast else (0, 1, 2)
    remedies = image_remedies(image_config(fast).epochs)
    if fast:  # five of the nine: seconds, not a minute
        keep = ("none", "AdamW 0.1", "label smoothing 0.1", "mixup 0.2", "augmentation")
        remedies = {k: v for k, v in remedies.items() if k.startswith(keep)}
    results = compare_image_remedies(image_config(fast), remedies, seeds=seeds)
    out.mkdir(parents=True, exist_ok=True)
    title = "mnist-5k, MLP 784-256-10"
    save(remedy_bars(results, title), str(out / "remedies.png"))
    result = DemoResult(figures=[out / "remedies.png"])
    base = results[0]  # "none"
    for r in results:
        (accuracy, sd), (gap, gap_sd) = r.val_accuracy, r.accuracy_gap
        spread = f" (+- {sd:.3f})" if len(seeds) > 1 else ""
        gap_spread = f" (+- {gap_sd:.3f})" if len(seeds) > 1 else ""
        result.add(
            f"validation accuracy, {r.name}",
            accuracy,
            f"{accuracy - base.val_accuracy[0]:+.3f} against none{spread}; gap {gap:.3f}",
        )
        result.add(
            f"gap, {r.name}",
            gap,
            f"training minus validation accuracy{gap_spread}; {gap - base.accuracy_gap[0]:+.3f} "
            "against none",
        )
    return result


# ---------------------------------------------------------------- exercise 3.7.1


def smoothed_cross_entropy(logits: Tensor, target: Tensor, eps: float) -> Tensor:
    """Cross-entropy with label smoothing, the batch mean.

    logits (batch, K), target (batch,) class indices. The smoothed target puts 1 - eps + eps/K
    on the true class and eps/K on every other class; the loss of a row is the cross-entropy
    of its softmax against that target, -sum_k target_k log p_k. Take log p from the logits
    with a stable log-softmax (large logits must not give inf or nan). Return a scalar.

    >>> smoothed_cross_entropy(torch.tensor([[0.0, 0.0]]), torch.tensor([0]), 0.1)
    tensor(0.6931)
    """
    K = logits.shape[1]
    log_p = torch.log_softmax(logits, dim=1)  # (batch, K)
    smooth = torch.full_like(log_p, eps / K)  # (batch, K)
    smooth[torch.arange(len(target)), target] += 1 - eps
    return -(smooth * log_p).sum(dim=1).mean()


def _smoothing_cases() -> list[Case]:
    def make(batch: int, classes: int, scale: float, eps: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            logits = scale * torch.randn(batch, classes, generator=g)
            return logits, torch.randint(0, classes, (batch,), generator=g), eps

        return Case(f"{batch} rows, {classes} classes, logits x{scale:g}, eps {eps}", args)

    return [make(8, 3, 1, 0.1, 0), make(16, 10, 2, 0.2, 1), make(5, 2, 1, 0.05, 2),
            make(6, 4, 500, 0.1, 3)]  # fmt: skip


def _wrong_smoothing(kind: str) -> object:
    """A known mistake: "K-1" spreads eps over the other classes only; "unstable" takes the
    log of the softmax."""

    def run(logits: Tensor, target: Tensor, eps: float) -> Outputs:
        K = logits.shape[1]
        if kind == "K-1":
            log_p = torch.log_softmax(logits, dim=1)
            smooth = torch.full_like(log_p, eps / (K - 1))
            smooth[torch.arange(len(target)), target] = 1 - eps
        else:
            log_p = torch.log(torch.softmax(logits, dim=1))  # -inf where softmax underflows
            smooth = torch.full_like(log_p, eps / K)
            smooth[torch.arange(len(target)), target] += 1 - eps
        return {"result": -(smooth * log_p).sum(dim=1).mean()}

    return run


SMOOTHED_LOSS = Exercise(
    id="3.7.1",
    title="cross-entropy with label smoothing",
    solution=smoothed_cross_entropy,
    cases=_smoothing_cases,
    oracle=lambda logits, target, eps: {
        "result": F.cross_entropy(logits, target, label_smoothing=eps)
    },
    oracle_name="torch.nn.functional.cross_entropy(label_smoothing=eps)",
    hints=(
        "build the smoothed target: eps / K everywhere, plus 1 - eps on the true class; then "
        "the cross-entropy against it, row by row, and the mean",
        "log_p = torch.log_softmax(logits, dim=1); smooth = torch.full_like(log_p, eps / K); "
        "smooth[torch.arange(len(target)), target] += 1 - eps; return -(smooth * "
        "log_p).sum(dim=1).mean()",
    ),
    mistakes=(
        Mistake(
            "K-1 classes",
            "spread eps over all K classes, the true one included (eps / K each, and 1 - eps + "
            "eps / K on the true class), not over the K - 1 others",
            _wrong_smoothing("K-1"),  # type: ignore[arg-type]
        ),
        Mistake(
            "log of softmax",
            "use torch.log_softmax(logits, dim=1), not torch.log(torch.softmax(...)): with "
            "large logits the softmax underflows to 0 and its log is -inf",
            _wrong_smoothing("unstable"),  # type: ignore[arg-type]
        ),
    ),
)

# ---------------------------------------------------------------- exercise 3.7.2


def mixup_batch(x: Tensor, y: Tensor, classes: int, lam: float, perm: Tensor) -> tuple[
    Tensor, Tensor
]:  # fmt: skip
    """Mixup of a batch with a shuffled copy of itself.

    x (batch, ...) inputs, y (batch,) class indices, perm (batch,) a permutation: row i is
    mixed with row perm[i], lam of row i and 1 - lam of its partner, in the inputs and in the
    one-hot labels alike. Return (mixed x of x's shape, mixed labels (batch, classes)).

    >>> mixup_batch(torch.tensor([[1.0], [3.0]]), torch.tensor([0, 1]), 2, 0.75,
    ...             torch.tensor([1, 0]))
    (tensor([[1.5000],
            [2.5000]]), tensor([[0.7500, 0.2500],
            [0.2500, 0.7500]]))
    """
    one_hot = F.one_hot(y, classes).to(x.dtype)  # (batch, classes)
    return lam * x + (1 - lam) * x[perm], lam * one_hot + (1 - lam) * one_hot[perm]


def _mixup_cases() -> list[Case]:
    def make(shape: tuple[int, ...], classes: int, lam: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            x = torch.randn(*shape, generator=g)
            y = torch.randint(0, classes, (shape[0],), generator=g)
            return x, y, classes, lam, torch.randperm(shape[0], generator=g)

        return Case(f"x {shape}, {classes} classes, lam {lam}", args)

    return [make((6, 3), 4, 0.7, 0), make((5, 1, 4, 4), 10, 0.2, 1), make((8, 2), 3, 0.95, 2)]


def _mixed_by_rows(kind: str) -> object:
    """The closed form row by row (``kind`` "right"), or a known mistake: "x only" leaves the
    labels one-hot; "swapped" gives lam to the partner."""

    def run(x: Tensor, y: Tensor, classes: int, lam: float, perm: Tensor) -> Outputs:
        a = 1 - lam if kind == "swapped" else lam
        eye = torch.eye(classes, dtype=x.dtype)  # row c: the one-hot label of class c
        rows = [a * x[i] + (1 - a) * x[int(perm[i])] for i in range(len(x))]
        labels = [a * eye[int(y[i])] + (1 - a) * eye[int(y[int(perm[i])])] for i in range(len(x))]
        if kind == "x only":
            labels = [eye[int(c)] for c in y]
        return {"mixed x": torch.stack(rows), "mixed y": torch.stack(labels)}

    return run


MIXUP = Exercise(
    id="3.7.2",
    title="mixup of a batch",
    solution=mixup_batch,
    cases=_mixup_cases,
    oracle=_mixed_by_rows("right"),  # type: ignore[arg-type]
    oracle_name="lam x_i + (1 - lam) x_perm[i] and the same of the one-hot labels, row by row",
    outputs=("mixed x", "mixed y"),
    imports=("import torch", "import torch.nn.functional as F", "from torch import Tensor"),
    hints=(
        "one-hot the labels (F.one_hot(y, classes)), then mix inputs and labels with the same "
        "lam and the same partners: lam * a + (1 - lam) * a[perm]",
        "one_hot = F.one_hot(y, classes).to(x.dtype); return lam * x + (1 - lam) * x[perm], "
        "lam * one_hot + (1 - lam) * one_hot[perm]",
    ),
    mistakes=(
        Mistake(
            "x only",
            "mix the labels too: a picture that is 70% a 3 and 30% a 7 has the target 0.7 on 3 "
            "and 0.3 on 7, not a one-hot 3",
            _mixed_by_rows("x only"),  # type: ignore[arg-type]
        ),
        Mistake(
            "lam swapped",
            "row i keeps lam of itself and takes 1 - lam from its partner perm[i], not the "
            "other way round",
            _mixed_by_rows("swapped"),  # type: ignore[arg-type]
        ),
    ),
)

# ---------------------------------------------------------------- exercise 3.7.3


def ema_update(average: Tensor, current: Tensor, decay: float) -> Tensor:
    """One update of an exponential moving average of the weights.

    average and current have the same shape: the running average and the weights after the
    latest step. The new average keeps decay of the old one and takes 1 - decay of the
    current weights. Return the new average (a new tensor, same shape).

    >>> ema_update(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 0.9)
    tensor([0.9000, 0.1000])
    """
    return decay * average + (1 - decay) * current


def _ema_cases() -> list[Case]:
    def make(shape: tuple[int, ...], decay: float, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            return torch.randn(*shape, generator=g), torch.randn(*shape, generator=g), decay

        return Case(f"weights {shape}, decay {decay}", args)

    return [make((5,), 0.9, 0), make((3, 4), 0.99, 1), make((2, 3, 2), 0.7, 2)]


def _averaged_model(average: Tensor, current: Tensor, decay: float) -> Outputs:
    """The oracle: torch's ``AveragedModel`` with ``get_ema_multi_avg_fn(decay)``, started at
    ``average`` (its first update copies) and updated once with ``current``."""
    weights = torch.nn.ParameterList([torch.nn.Parameter(average.clone())])
    ema = get_ema_multi_avg_fn(decay)  # type: ignore[no-untyped-call]
    averaged = AveragedModel(weights, multi_avg_fn=ema)
    averaged.update_parameters(weights)  # the first update copies: the average is `average`
    with torch.no_grad():
        weights[0].copy_(current)
    averaged.update_parameters(weights)
    return {"result": next(averaged.module.parameters()).detach().clone()}


EMA_UPDATE = Exercise(
    id="3.7.3",
    title="one update of the weights' moving average",
    solution=ema_update,
    cases=_ema_cases,
    oracle=_averaged_model,
    oracle_name="torch.optim.swa_utils.AveragedModel(multi_avg_fn=get_ema_multi_avg_fn(decay))",
    hints=(
        "the average moves a little towards the current weights: it keeps decay of itself",
        "return decay * average + (1 - decay) * current",
    ),
    mistakes=(
        Mistake(
            "decay swapped",
            "keep decay of the old average and take 1 - decay of the current weights: with "
            "decay 0.99 the average moves 1% of the way, not 99%",
            lambda average, current, decay: {"result": (1 - decay) * average + decay * current},
        ),
    ),
)

LESSON = Lesson(
    id="3.7",
    title="Modern regularization",
    minutes=25,
    eli5=(
        "A big network can memorize its training images instead of learning what digits look "
        "like. The remedies used today each make memorizing harder in their own way: tell the "
        "model never to be completely sure (label smoothing); show it blends of two images "
        "with blended answers (mixup) or images moved a little (augmentation); pull its "
        "weights towards zero in proportion to their size (decoupled weight decay, AdamW); or "
        "keep a running average of its weights and use that in the end (EMA, SWA). Each is "
        "one flag in looplab, and this lesson measures what each one does on the same run, "
        "over several seeds, so a real effect can be told from luck."
    ),
    equations=(
        r"\mathcal{L}_\varepsilon = -\sum_{k=1}^{K} \Big((1-\varepsilon)[k = y] + "
        r"\frac{\varepsilon}{K}\Big) \log p_k = (1-\varepsilon)\,\mathrm{CE} + "
        r"\varepsilon\,\frac{1}{K}\sum_k (-\log p_k)",
        r"\tilde x = \lambda x_i + (1-\lambda) x_j, \quad \tilde y = \lambda e_{y_i} + "
        r"(1-\lambda) e_{y_j}, \quad \lambda \sim \mathrm{Beta}(\alpha, \alpha)",
        r"\text{Adam + L2: } g \leftarrow g + \lambda\theta, \ \theta \leftarrow \theta - "
        r"\eta \frac{\hat m}{\sqrt{\hat v} + \epsilon}; \qquad \text{AdamW: } \theta "
        r"\leftarrow \theta - \eta\Big(\frac{\hat m}{\sqrt{\hat v} + \epsilon} + "
        r"\lambda\theta\Big)",
        r"\text{EMA: } \bar\theta \leftarrow d\,\bar\theta + (1-d)\,\theta \ \text{each step}; "
        r"\qquad \text{SWA: } \bar\theta = \frac{1}{k}\sum_{i=1}^{k} \theta_{\text{epoch } i}",
    ),
    notes=(
        "Run them yourself: `looplab train --dataset mnist-5k --label-smoothing 0.1` (or "
        "`--mixup 0.2`, `--augment-shift 2 --augment-rotate 10`, `--optimizer adamw "
        "--weight-decay 0.1`, `--ema-decay 0.99`, `--swa-start 8`), and `looplab regularize "
        "--dataset mnist-5k` for the whole table (docs/regularization.md has it, with what it "
        "says).",
        "Full mode (`looplab lesson 3.7`) takes under a minute on 2 cores (the last demo "
        "trains 27 runs); `--fast` takes 10 to 20 seconds, on 500 images for 2 epochs, where "
        "the differences between remedies are mostly noise and an EMA of decay 0.99 has too "
        "few steps (16) to forget its start.",
    ),
    look_at=(
        "looplab's smoothed loss is F.cross_entropy's, and the closed form agrees; trained "
        "with smoothing, the model is less sure of itself (fewer images near 100% in "
        "confidence.png), at about the same accuracy (in full mode, higher)",
        "mixup_and_shifts.png: the middle row is two digits at once, and its label says so "
        "(0.7 and 0.3); the bottom row is the same digits moved and turned a little",
        "with no loss at all, AdamW shrinks every weight by the same factor, while Adam + L2 "
        "moves the larger ones by about the same amount, lr a step: the adaptive step has "
        "normalized the decay away, so the same lambda is a different regularizer",
        "the averaged weights (EMA, SWA) against the last ones on validation: a small change, "
        "measured, not assumed",
        "remedies.png: in full mode augmentation and label smoothing stand out; an effect "
        "smaller than two standard deviations over seeds is noise",
    ),
    demos=(
        Demo("label smoothing", label_smoothing, ("confidence.png",)),
        Demo("mixup and augmentation", mixup_and_augmentation, ("mixup_and_shifts.png",)),
        Demo("AdamW is not Adam + L2", adamw_is_not_adam_l2),
        Demo("EMA and SWA against the last weights", ema_and_swa),
        Demo("every remedy over seeds", remedies_over_seeds, ("remedies.png",)),
    ),
    exercises=(SMOOTHED_LOSS, MIXUP, EMA_UPDATE),
)
