"""The diagnoses' rules on made-up curves: each fires on the pattern it names and stays quiet
on the look-alikes that fooled the old rules (a noisy validation loss, a converged plateau, a
spike of tiny gradients)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, mean_squared_error

from looplab.data.batches import Batches
from looplab.loop.state import LoopState
from looplab.models import ModelSpec, build_model
from looplab.models.losses import TaskLoss
from looplab.task import Task
from looplab.watch import diagnosis_rules as rules
from looplab.watch.diagnoses import baseline_of
from looplab.watch.diagnosis_rules import Baseline

BINARY = Baseline(loss=math.log(2), majority=0.5, n_val=60)
THREE = Baseline(loss=math.log(3), majority=1 / 3, n_val=60)

# The default `looplab train --dataset sine` run (seed 0): the validation loss jumps by 20-40%
# from epoch to epoch but keeps falling; the old rule called it overfitting at epoch 43.
SINE_TRAIN = [
    0.4753, 0.4312, 0.4202, 0.4102, 0.3947, 0.387, 0.3767, 0.3623, 0.3505, 0.3397, 0.3169,
    0.2982, 0.2711, 0.2334, 0.2038, 0.1743, 0.1369, 0.1087, 0.1017, 0.085, 0.07569, 0.05893,
    0.05779, 0.05373, 0.04622, 0.04742, 0.04262, 0.04457, 0.0414, 0.03971, 0.04192, 0.03852,
    0.03787, 0.03734, 0.03057, 0.03159, 0.03274, 0.03288, 0.03064, 0.03188, 0.03807, 0.03539,
    0.03055, 0.03984, 0.03053, 0.03232, 0.03081, 0.02697, 0.02656, 0.02847, 0.02678, 0.02701,
    0.02598, 0.0317, 0.0281, 0.03085, 0.0322, 0.02999, 0.02756, 0.02789, 0.03441, 0.03023,
    0.02643, 0.03176, 0.02988, 0.02759, 0.0259, 0.02576, 0.02649, 0.02435, 0.02601, 0.02696,
    0.02593, 0.0242, 0.02538, 0.02579, 0.02567, 0.02472, 0.02341, 0.02564, 0.02586, 0.02368,
    0.02419, 0.02603, 0.0292, 0.02837, 0.03308, 0.03234, 0.02795, 0.02434, 0.02251, 0.02264,
    0.02313, 0.02172, 0.02289, 0.02329, 0.02491, 0.02266, 0.02261, 0.02106,
]  # fmt: skip
SINE_VAL = [
    0.4135, 0.3938, 0.3727, 0.3756, 0.3647, 0.3492, 0.3416, 0.336, 0.3274, 0.3083, 0.2987,
    0.2655, 0.2418, 0.1891, 0.1954, 0.1503, 0.1127, 0.09011, 0.09224, 0.07445, 0.05899,
    0.06037, 0.05384, 0.05173, 0.04715, 0.04483, 0.04425, 0.05329, 0.05007, 0.0424, 0.04489,
    0.03859, 0.0424, 0.03636, 0.0352, 0.03769, 0.03429, 0.03192, 0.0331, 0.04485, 0.04595,
    0.0309, 0.04008, 0.03186, 0.03718, 0.03195, 0.03158, 0.032, 0.03014, 0.03167, 0.03128,
    0.03103, 0.03905, 0.02987, 0.03415, 0.03481, 0.03516, 0.03133, 0.02977, 0.03748, 0.0284,
    0.03753, 0.02824, 0.03871, 0.03258, 0.03103, 0.02848, 0.02889, 0.02708, 0.02829, 0.02948,
    0.03231, 0.02722, 0.02796, 0.02806, 0.03052, 0.02966, 0.0297, 0.02874, 0.02702, 0.02677,
    0.0263, 0.02535, 0.03327, 0.04216, 0.03202, 0.03874, 0.03434, 0.02872, 0.02846, 0.02467,
    0.02597, 0.02367, 0.02664, 0.02793, 0.02682, 0.02689, 0.02614, 0.02523, 0.02546,
]  # fmt: skip


def falling(start: float, end: float, n: int) -> list[float]:
    """``n`` losses falling geometrically from ``start`` to ``end``."""
    return list(np.geomspace(start, end, n))


def fit_of(train: list[float], accuracy: list[float] | None = None) -> rules.Fit | None:
    return rules.fit_now(train, accuracy or [], BINARY, 20)


# ---- yardsticks ---------------------------------------------------------------------------


def test_the_constant_guess_losses_are_sklearns_loss_of_the_class_frequencies_and_the_mean() -> (
    None
):
    model = build_model(ModelSpec(2, 3, (4,)), seed=0)
    y = torch.tensor([0, 0, 0, 1, 1, 2, 0, 1])
    X = torch.zeros(len(y), 2)

    def state(task: Task, targets: torch.Tensor) -> LoopState:
        batches = Batches(X, targets, 4)
        val = Batches(X[:3], targets[:3], 4)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        return LoopState(model, optimizer, TaskLoss(task), batches, val, torch.device("cpu"),
                         task, 1)  # fmt: skip

    found = baseline_of(state("multiclass", y))
    prior = np.bincount(y.numpy()) / len(y)
    assert found is not None and found.n_val == 3
    assert found.loss == pytest.approx(log_loss(y.numpy(), np.tile(prior, (len(y), 1))))
    assert found.majority == 0.5
    targets = torch.tensor([1e5, 1.2e5, 0.9e5, 1.1e5])
    X = torch.zeros(4, 2)
    found = baseline_of(state("regression", targets))
    mean = np.full(4, targets.double().mean().item())
    assert found is not None
    assert found.loss == pytest.approx(mean_squared_error(targets.numpy(), mean))
    assert found.target_scale == pytest.approx(math.sqrt((targets.double() ** 2).mean().item()))


def test_skill_and_improvement() -> None:
    assert rules.skill(math.log(2), BINARY) == 0 and rules.skill(0, BINARY) == 1
    assert rules.accuracy_skill(0.75, BINARY) == 0.5 and math.isnan(rules.accuracy_skill(0.8, None))
    # the median of the window's first third against its last third, robust to one spike
    # (the window is the last n + 1 epochs: the 2.0 is outside it)
    assert rules.improvement([2.0, 1.0, 1.0, 9.0, 0.5, 0.5, 0.5], 5) == pytest.approx(0.5)
    assert rules.improvement([1.0, 2.0], 5) != rules.improvement([1.0, 2.0], 5)  # NaN: too few


# ---- runaway losses -----------------------------------------------------------------------


def test_diverging_needs_three_steps_over_100x_the_start_or_the_constant_guess() -> None:
    found = rules.diverging(0.69, [50.0, 80.0, 120.0], math.log(2))
    assert (
        found is not None
        and found.recent == 80.0
        and found.factor == pytest.approx(80 / 0.6931, rel=1e-3)
    )
    assert rules.diverging(0.69, [0.5, 500.0, 0.4], math.log(2)) is None  # one bad batch
    assert rules.diverging(0.69, [60.0, 65.0, 68.0], math.log(2)) is None  # under 100x
    # a start far below the constant guess (a lucky initialization) is not the yardstick
    assert rules.diverging(0.01, [5.0, 6.0, 7.0], 0.5) is None
    assert rules.diverging(0.01, [5.0, 6.0, 7.0]) is not None
    assert rules.diverging(0.69, [math.inf, math.inf, math.inf]) is None  # non-finite's business


def test_unstable_rise_and_bounce() -> None:
    best_then_up = [1.0, 0.6, 0.4, 0.36, 0.6, 0.65, 0.7, 0.75, 0.7, 0.8, 0.72, 0.74, 0.7, 0.76]
    rise = rules.unstable(best_then_up, math.log(2), n=10)
    assert rise is not None and rise.best == 0.36 and rise.best_epoch == 4 and rise.low == 0.6
    assert rules.unstable(best_then_up[:4] + [0.54] * 10, math.log(2), n=10) is None  # 1.5x only
    converged = [0.5, 0.1, 0.01, 0.001] + [0.001, 0.003] * 5  # 3x its best, by nothing
    assert rules.unstable(converged, math.log(2), n=10) is None
    bouncing = [0.75, 0.69, 0.72, 0.70, 0.74, 0.71, 0.76, 0.70, 0.73, 0.69, 0.75, 0.72]
    found = rules.bouncing(bouncing, fit_of(bouncing), n=10)
    assert found is not None and found.jump > 0.02
    smooth = [0.75, 0.70] + [0.6931 + 1e-4 * (i % 2) for i in range(10)]  # a stuck linear model
    assert rules.bouncing(smooth, fit_of(smooth), n=10) is None
    learning = [0.69 * 0.93**i * (1.05 if i % 2 else 1.0) for i in range(12)]  # jumpy but falling
    assert rules.bouncing(learning, fit_of(learning), n=10) is None


# ---- stuck and poor fits ------------------------------------------------------------------


def test_plateau_is_a_poor_fit_whose_weights_barely_moved() -> None:
    flat = [0.6948] * 25
    assert rules.plateau(fit_of(flat), moved=1e-8, n=20)
    assert not rules.plateau(fit_of(flat), moved=0.3, n=20)  # moved and stopped: underfitting
    assert not rules.plateau(fit_of(flat[:15]), moved=1e-8, n=20)  # not 20 epochs yet
    converged = falling(0.69, 0.05, 5) + [0.05] * 20  # a plateau at a low loss: converged
    assert not rules.plateau(fit_of(converged), moved=1e-8, n=20)
    creeping = falling(0.6948, 0.68, 25)  # 2% in 25 epochs: barely learning
    assert rules.plateau(fit_of(creeping), moved=0.005, n=20)
    rising = [0.69 * 1.02**i for i in range(25)]  # a loss that rises is never "too small steps"
    assert not rules.plateau(fit_of(rising), moved=1e-8, n=20)


def test_underfitting_is_a_poor_fit_that_stopped_improving() -> None:
    stuck = falling(1.1, 0.75, 6) + [0.75] * 20  # a linear model on spiral, skill 0.32
    fit = rules.fit_now(stuck, [0.53] * 26, THREE, 20)
    assert fit is not None and fit.poor and fit.stalled
    assert rules.underfitting(fit, 20)
    still_learning = falling(0.69, 0.5, 5)  # a short run, falling fast: not yet
    assert not rules.underfitting(fit_of(still_learning), 20, final=True)
    slow = falling(0.69, 0.67, 30)  # still falling, slowly: say so at the end, not before
    fit = fit_of(slow)
    assert rules.underfitting(fit, 20, final=True) and fit is not None and not fit.stalled
    assert not rules.underfitting(fit, 20)  # (a full-batch tanh net sits 50 epochs on such a
    # saddle of the sine data before it escapes to R^2 0.96)
    good = falling(0.69, 0.1, 5) + [0.1] * 20  # skill 0.86
    assert not rules.underfitting(fit_of(good, [0.97] * 25), 20, final=True)
    # either yardstick: 75% right (half way from the majority's 50%) with a loss near ln 2
    either = rules.fit_now([0.69] * 3, [0.75] * 3, BINARY, 20)
    assert either is not None and either.accuracy_skill == 0.5 and either.poor


def test_loss_scale_wants_a_large_target_and_an_r2_below_zero() -> None:
    large = Baseline(loss=1.27e8, mean=1e5, std=1.13e4)
    small = Baseline(loss=0.5, mean=0.1, std=0.7)
    assert rules.loss_scale([-90.0, -89.0, -88.0], large, 1e10)
    assert not rules.loss_scale([-90.0, -89.0, 0.2], large, 1e10)  # caught up with the mean
    assert not rules.loss_scale([-0.5, -0.4, -0.3], small, 1.5)  # a small target: not scale
    assert not rules.loss_scale([-90.0, -89.0], large, 1e10)  # 3 epochs first
    assert rules.loss_scale([-5.0, -4.0, -3.0], None, 2e4)  # targets unknown: the first loss
    assert not rules.loss_scale([-5.0, -4.0, -3.0], None, 3.0)


# ---- train against validation -------------------------------------------------------------


def test_overfitting_wants_a_real_sustained_rise_while_training_improves() -> None:
    n = 30
    train = falling(0.7, 0.05, n)
    val = [0.6 - 0.02 * i for i in range(15)] + [0.32 + 0.03 * i for i in range(15)]
    found = rules.overfitting(val, train, 10, math.log(2), n_val=60)
    assert found is not None and found.best_epoch == 15 and found.val_best == pytest.approx(0.32)
    assert found.val_now > 1.2 * found.val_best and found.train_now < 0.9 * found.train_then
    flat = [0.5, 0.52, 0.49, 0.51, 0.5] * 6  # noise around a level: no rise
    assert rules.overfitting(flat, train, 10) is None
    spike = [*flat[:-1], 0.8]  # one bad epoch at the end
    assert rules.overfitting(spike, train, 10) is None
    assert rules.overfitting(val, [0.3] * n, 10) is None  # training not improving either
    # 30 validation rows: the same rise of 0.05 is two examples turning wrong, not evidence
    small = [0.06 - 0.002 * i for i in range(15)] + [0.031 + 0.004 * i for i in range(15)]
    assert rules.overfitting(small, train, 10, math.log(3), n_val=500) is not None
    assert rules.overfitting(small, train, 10, math.log(3), n_val=30) is None


def test_the_default_sine_run_never_looks_overfit() -> None:
    for epoch in range(1, len(SINE_VAL) + 1):
        assert rules.overfitting(SINE_VAL[:epoch], SINE_TRAIN[:epoch], 10, 0.519, 60) is None


def test_a_generalization_gap_beyond_chance() -> None:
    gap = rules.generalization_gap("accuracy", [0.999] * 3, [0.924] * 3, 200)
    assert gap is not None and gap.z == pytest.approx(0.075 / math.sqrt(0.9615 * 0.0385 / 200))
    assert rules.generalization_gap("accuracy", [0.954] * 3, [0.90] * 3, 60) is None  # 1.6 SE
    assert rules.generalization_gap("accuracy", [1.0] * 3, [0.956] * 3, 360) is None  # < 5 pts
    assert rules.generalization_gap("accuracy", [0.99, 0.5, 0.99], [0.92] * 3, 2000) is not None
    assert rules.generalization_gap("r2", [0.99] * 3, [0.45] * 3, 30) is not None
    assert rules.generalization_gap("r2", [0.96] * 3, [0.948] * 3, 60) is None
    assert rules.generalization_gap("r2", [0.89] * 3, [0.07] * 3, 15) is None  # 2.4 SE on 15


# ---- gradients ----------------------------------------------------------------------------


def test_exploding_wants_a_record_norm_and_a_loss_worse_than_the_start() -> None:
    norms = [1.0] * 10 + [5.0, 30.0, 200.0, 900.0]
    losses = [0.7] * 10 + [1.0, 5.0, 40.0, 300.0]
    found = rules.exploding(norms, losses, first_loss=0.7)
    assert found is not None and found.step == 13 and found.before == 1.0 and found.recent == 30.0
    learning = [0.7 - 0.03 * i for i in range(14)]  # gradients grow as a net leaves a flat start
    assert rules.exploding(norms, learning, first_loss=0.7) is None
    converged = [2.0] * 5 + [0.01] * 10 + [0.5, 0.6, 0.7]  # a late spike of tiny gradients
    assert rules.exploding(converged, [0.7] * 5 + [0.01] * 13, first_loss=0.7) is None
    assert rules.exploding(norms, losses, first_loss=0.7, start=20) is None  # already checked


def test_dead_relus_only_when_they_do_harm() -> None:
    half = {"act1": 0.19, "act2": 0.56}  # the healthy sine run: kinks outside the data
    assert rules.dead_relus(half, poor_fit=False) == {}
    assert rules.dead_relus(half, poor_fit=True) == {"act2": 0.56}
    assert rules.dead_relus({"act1": 0.94, "act2": 0.3}, poor_fit=False) == {"act1": 0.94}
    assert rules.dead_relus({"act1": 0.4}, poor_fit=True) == {}


def test_vanishing() -> None:
    assert rules.vanishing(1e-7, 0.1) and not rules.vanishing(1e-3, 0.1)
    assert not rules.vanishing(math.nan, 0.1)
