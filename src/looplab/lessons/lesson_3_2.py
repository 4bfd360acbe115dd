"""Lesson 3.2: learning-rate schedules (step, cosine, warm-up, one-cycle) from scratch equal to
``torch.optim.lr_scheduler``, what they change on the default job, and the lr finder."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.experiments.lr_find import lr_range_test
from looplab.lessons.exercise import Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.lr_find import lr_find_plot
from looplab.plots.schedule import schedule_figure
from looplab.plots.style import DPI, PALETTE, save
from looplab.run.fit import fit
from looplab.run.schedules import lr_sequence

# ---------------------------------------------------------------- demos


def schedule_curves(fast: bool = False, out: Path = Path("lessons/3.2")) -> DemoResult:
    """Every clock-driven schedule looplab has, for a 30-epoch run of 8 updates an epoch at
    lr 0.1 with 3 epochs of warm-up, twice: from scratch (``looplab.manual.schedules``, each a
    closed form of the step count) and by ``torch.optim.lr_scheduler`` (most of them
    recursive, step from step). Nothing is trained: a dummy parameter takes the steps."""
    epochs, per_epoch, warmup = 30, 8, 3
    names = ("step", "exponential", "cosine", "warmup_cosine", "one_cycle")
    curves, gaps = {}, {}
    for name in names:
        config = Config(schedule=name, epochs=epochs, lr=0.1, optimizer="sgd",
                        warmup=warmup if name in ("warmup_cosine", "one_cycle") else 0)  # fmt: skip
        scratch = lr_sequence(config.replace(impl="scratch"), per_epoch)  # one lr per update
        reference = lr_sequence(config.replace(impl="torch"), per_epoch)
        curves[name] = scratch
        gaps[name] = max(abs(a - b) / 0.1 for a, b in zip(scratch, reference, strict=True))

    fig = schedule_figure(
        curves, per_epoch, f"lr 0.1, {epochs} epochs of {per_epoch} updates, warm-up {warmup}"
    )
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "schedules.png"))

    result = DemoResult(figures=[out / "schedules.png"])
    for name in names:
        result.add(
            f"max |scratch - torch| / lr, {name}",
            gaps[name],
            f"over all {epochs * per_epoch} updates; the last lr is {curves[name][-1]:.3g}",
        )
    warm = curves["warmup_cosine"]
    result.add(
        "warmup_cosine, first lr",
        warm[0],
        f"the ramp starts at lr / (W + 1) with W = {warmup * per_epoch} warm-up updates and "
        f"reaches the peak {max(warm):.3g} at update {warm.index(max(warm))}",
    )
    cycle = curves["one_cycle"]
    result.add(
        "one_cycle, first lr",
        cycle[0],
        f"lr / 25; the peak {max(cycle):.3g} is at update {cycle.index(max(cycle))}, the "
        f"end is {cycle[-1]:.3g}, lr / 25e4",
    )
    return result


def schedules_on_the_default_job(fast: bool = False, out: Path = Path("lessons/3.2")) -> DemoResult:
    """The default job (moons, 2-16-16-1 ReLU, Adam, batches of 32) at a brisk lr 0.03 with
    each schedule, from the same seeds. With a constant rate the loss keeps jittering around
    the bottom, the batch noise times the step; a rate that decays lets it settle."""
    config = Config(epochs=12 if fast else 30, device="cpu", lr=0.03, optimizer="adam")
    data = load_prepared(config)
    names = ("constant", "step", "cosine", "warmup_cosine", "one_cycle")
    seeds = range(1 if fast else 3)
    runs: dict[str, list[dict[str, list[float]]]] = {}
    for name in names:
        runs[name] = []
        for seed in seeds:
            model = build_model(ModelSpec(2, 1, (16, 16)), seed=seed)
            history = fit(model, data, config.replace(schedule=name, seed=seed))
            runs[name].append({c: history.column(c) for c in ("train_loss", "val_loss", "lr")})

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), dpi=DPI, layout="constrained")
    for name, colour in zip(names, PALETTE, strict=False):
        curve = np.mean([r["val_loss"] for r in runs[name]], axis=0)  # (epochs,)
        epochs = np.arange(1, len(curve) + 1)
        left.plot(epochs, curve, color=colour, label=name)
        right.plot(epochs, runs[name][0]["lr"], color=colour, label=name)
    left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel(f"validation loss (mean over seeds {list(seeds)})")
    left.set_title("moons, 2-16-16-1 ReLU, Adam at lr 0.03, batches of 32")
    left.legend()
    right.set_xlabel("epoch")
    right.set_ylabel("learning rate at the end of the epoch")
    right.set_title("the schedules as the runs used them")
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "schedules_default_job.png"))

    def jitter(curve: list[float]) -> float:  # mean |change| between the last 6 epochs
        return float(np.abs(np.diff(curve[-6:])).mean())

    result = DemoResult(figures=[out / "schedules_default_job.png"])
    base = statistics.fmean(jitter(r["val_loss"]) for r in runs["constant"])
    for name in names:
        spread = statistics.fmean(jitter(r["val_loss"]) for r in runs[name])
        result.add(
            f"validation loss jitter, {name}",
            spread,
            "mean size of the validation loss's change from one epoch to the next, over the "
            "last 5 changes"
            + ("" if name == "constant" else f", {spread / base:.2g} times the constant rate's"),
        )
        result.add(
            f"final training loss, {name}",
            statistics.fmean(r["train_loss"][-1] for r in runs[name]),
            f"after {config.epochs} epochs, mean over seeds {list(seeds)}",
        )
    return result


def lr_finder(fast: bool = False, out: Path = Path("lessons/3.2")) -> DemoResult:
    """The range test (``looplab lr-find``) on the default job: a copy of the model trains
    while the lr grows tenfold every few dozen batches, from 1e-6 to 10, and the loss is
    watched. The suggestion is where the smoothed loss falls fastest. Then the real model
    trains at a tenth of it, at it and at ten times it."""
    config = Config(epochs=10 if fast else 25, device="cpu")  # Adam, batches of 32
    data = load_prepared(config)
    model = build_model(ModelSpec(2, 1, (16, 16)), seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    found = lr_range_test(model, data, config, steps=100 if fast else 200)
    untouched = all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    suggestion = found.suggestion

    trials = {}  # lr -> final validation loss of a real run from the same start
    for factor in (0.1, 1.0, 10.0):
        lr = suggestion * factor
        history = fit(build_model(ModelSpec(2, 1, (16, 16)), seed=0), data, config.replace(lr=lr))
        trials[factor] = history.last["val_loss"]

    fig = lr_find_plot(found, "the range test on the default job (moons, Adam, batch 32)")
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "lr_finder.png"))

    result = DemoResult(figures=[out / "lr_finder.png"])
    result.add(
        "suggested lr",
        suggestion,
        f"the steepest fall of the smoothed loss over {found.steps} test steps; the lowest "
        f"smoothed loss is at lr {found.min_lr:.3g}, past which it "
        + ("exploded and the test stopped" if found.stopped_early else "rose"),
    )
    result.add(
        "model unchanged by the test",
        float(untouched),
        "1: the range test trains a copy; the model's weights are as they were",
    )
    for factor, loss in trials.items():
        result.add(
            f"validation loss at {factor:g} x the suggestion",
            loss if math.isfinite(loss) else math.nan,
            f"lr {suggestion * factor:.3g}, {config.epochs} epochs from the same seed",
        )
    return result


# ---------------------------------------------------------------- exercise 3.2.1


def warmup_cosine(base_lr: float, warmup: int, total: int) -> Tensor:
    """The learning rate of each of ``total`` updates under a linear warm-up then a cosine.

    For t = 0 .. warmup - 1 the rate ramps up linearly, base_lr * (t + 1) / (warmup + 1)
    (never 0, so the first update moves). From t = warmup on it follows half a cosine from
    base_lr down towards 0 over the remaining total - warmup updates:
    base_lr * (1 + cos(pi * (t - warmup) / (total - warmup))) / 2.
    Return a float64 tensor of shape (total,).

    >>> warmup_cosine(1.0, warmup=1, total=3)
    tensor([0.5000, 1.0000, 0.5000], dtype=torch.float64)
    """
    t = torch.arange(total, dtype=torch.float64)  # (total,)
    ramp = base_lr * (t + 1) / (warmup + 1)
    cosine = base_lr * (1 + torch.cos(math.pi * (t - warmup) / (total - warmup))) / 2
    return torch.where(t < warmup, ramp, cosine)


def _warmup_cases() -> list[Case]:
    def make(base_lr: float, warmup: int, total: int) -> Case:
        return Case(f"lr {base_lr:g}, warm-up {warmup}, total {total}",
                    lambda: (base_lr, warmup, total))  # fmt: skip

    return [make(0.1, 5, 50), make(1.0, 1, 4), make(3e-4, 100, 1000), make(0.5, 0, 20)]


def _torch_warmup_cosine(base_lr: float, warmup: int, total: int) -> Outputs:
    """torch's LinearLR (from 1 / (W + 1) to 1 over W steps) then CosineAnnealingLR over the
    rest, joined by SequentialLR; the lr read before each of ``total`` steps."""
    p = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=base_lr)
    sched = torch.optim.lr_scheduler
    decay = sched.CosineAnnealingLR(optimizer, T_max=total - warmup)
    if warmup:
        ramp = sched.LinearLR(optimizer, 1 / (warmup + 1), 1.0, total_iters=warmup)
        schedule: sched.LRScheduler = sched.SequentialLR(optimizer, [ramp, decay], [warmup])
    else:
        schedule = decay
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return {"result": torch.tensor(lrs, dtype=torch.float64)}


def _cosine_variant(base_lr: float, warmup: int, total: int, *, way: str) -> Outputs:
    """The schedule written with one known mistake (``way``)."""
    t = torch.arange(total, dtype=torch.float64)
    ramp = base_lr * (t / warmup if way == "from zero" else (t + 1) / (warmup + 1))
    start, length = {"not shifted": (0, total), "over total": (warmup, total)}.get(
        way, (warmup, total - warmup)
    )
    cosine = base_lr * (1 + torch.cos(math.pi * (t - start) / length)) / 2
    return {"result": torch.where(t < warmup, ramp, cosine)}


def _cosine_mistake(way: str) -> object:
    return lambda *args: _cosine_variant(*args, way=way)


WARMUP_COSINE = Exercise(
    id="3.2.1",
    title="a cosine schedule with linear warm-up",
    solution=warmup_cosine,
    cases=_warmup_cases,
    oracle=_torch_warmup_cosine,
    oracle_name="torch.optim.lr_scheduler: LinearLR then CosineAnnealingLR, by SequentialLR",
    hints=(
        "two pieces: a straight line up to base_lr for the first warmup updates, then half a "
        "cosine that starts at t = warmup and lasts total - warmup updates",
        "t = torch.arange(total, dtype=torch.float64); ramp = base_lr * (t + 1) / (warmup + 1); "
        "cosine = base_lr * (1 + cos(pi (t - warmup) / (total - warmup))) / 2; "
        "torch.where(t < warmup, ramp, cosine)",
    ),
    mistakes=(
        Mistake(
            "ramp from zero",
            "the ramp is base_lr * (t + 1) / (warmup + 1): starting at t / warmup makes the "
            "first update's lr 0, a wasted step",
            _cosine_mistake("from zero"),  # type: ignore[arg-type]
        ),
        Mistake(
            "cosine not shifted",
            "the cosine starts when the warm-up ends: use t - warmup, and its length is "
            "total - warmup",
            _cosine_mistake("not shifted"),  # type: ignore[arg-type]
        ),
        Mistake(
            "cosine too long",
            "the cosine lasts total - warmup updates, not total: it must head for 0 by the end",
            _cosine_mistake("over total"),  # type: ignore[arg-type]
        ),
    ),
    rtol=1e-6,
    atol=1e-12,
    imports=("import math", "", "import torch", "from torch import Tensor"),
)

LESSON = Lesson(
    id="3.2",
    title="Learning-rate schedules",
    minutes=20,
    eli5=(
        "Early in training the weights are far from any good answer, so big steps are fine; "
        "near the end, big steps keep hopping over the bottom of the valley. A schedule turns "
        "the step size down as training goes: in stairs (step), smoothly (cosine), or after a "
        "short gentle start (warm-up) so the first noisy steps do no harm. And to pick the "
        "starting size, the lr finder tries them all in one short run, from tiny to huge, and "
        "watches where the loss falls fastest."
    ),
    equations=(
        r"\text{step: } \eta_t = \eta_0\, \gamma^{\lfloor t / s \rfloor}, \qquad "
        r"\text{cosine: } \eta_t = \eta_0\, \frac{1 + \cos(\pi t / T)}{2}",
        r"\text{warm-up then cosine: } \eta_t = \begin{cases} \eta_0 \frac{t + 1}{W + 1} & "
        r"t < W \\ \eta_0 \frac{1 + \cos(\pi (t - W) / (T - W))}{2} & t \ge W \end{cases}",
        r"\text{range test: } \eta_k = \eta_{\min} (\eta_{\max} / \eta_{\min})^{k / (K-1)}, "
        r"\quad \text{suggestion} = \arg\min_k \frac{d \bar L_k}{d \log_{10} \eta_k}",
    ),
    look_at=(
        "the from-scratch schedules equal torch's to float rounding, update by update",
        "schedules.png: step drops tenfold twice; cosine glides; warmup_cosine ramps for 3 "
        "epochs first; one_cycle climbs from lr/25 to the peak, then falls far below it",
        "schedules_default_job.png: the constant rate's validation loss keeps jittering; the "
        "decaying ones flatten out as their lr nears 0",
        "lr_finder.png: flat at tiny rates, a steep fall, then an explosion; the suggestion "
        "sits on the fall, well left of the explosion",
    ),
    demos=(
        Demo("the schedules, from scratch and by torch", schedule_curves, ("schedules.png",)),
        Demo(
            "schedules on the default job",
            schedules_on_the_default_job,
            ("schedules_default_job.png",),
        ),
        Demo("the lr finder", lr_finder, ("lr_finder.png",)),
    ),
    exercises=(WARMUP_COSINE,),
)
