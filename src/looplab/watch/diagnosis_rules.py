r"""The rules of the diagnoses, as pure functions of a run's numbers (no torch, no state).

Each rule takes columns of the history (one float per epoch) or per-step losses and returns
the evidence it found (a small record of the numbers behind the words) or None. The callback
in :mod:`looplab.watch.diagnoses` feeds them and turns the evidence into a note; here they can
be tested on made-up curves, firing and not firing.

Two yardsticks recur:

- the *constant-guess loss* $L_0$: the loss of the best prediction that ignores the inputs
  (the class frequencies: $L_0 = -\sum_c p_c \log p_c$; the target's mean: $L_0 =
  \mathrm{Var}(y)$). A loss near $L_0$ has learned nothing.
- the *skill* $1 - L/L_0$ (for MSE this is $R^2$), and for classification the accuracy skill
  $(a - a_0)/(1 - a_0)$ over the majority-class rate $a_0$: 0 is a constant guess, 1 perfect.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

POOR_SKILL = 1 / 3  # below this skill (loss or accuracy) a fit is poor: "underfitting"
STALL = 0.01  # a loss that improved by less than 1% (relative) over a window has stalled
STUCK_MOVE = 0.01  # weights that moved less than 1% of their norm since the start are stuck
CRAWL = 0.05  # ... and a loss that improved by less than 5% over the window is barely learning


@dataclass(frozen=True)
class Baseline:
    """What a constant guess achieves on the training targets: its ``loss`` $L_0$, and (for
    classification) the ``majority`` class rate; for regression the target's ``mean`` and
    ``std``. ``n_val``: validation rows (None when unknown)."""

    loss: float
    majority: float = math.nan
    mean: float = math.nan
    std: float = math.nan
    n_val: int | None = None

    @property
    def target_scale(self) -> float:
        r"""$\sqrt{\mathrm{mean}(y^2)}$ of a regression target: the size of the numbers the
        network's outputs (near 0 at the start) must reach."""
        return math.hypot(self.mean, self.std)


def finite(values: Sequence[float]) -> bool:
    """No NaN or inf among ``values`` (their sum is finite: one pass in C, not in Python)."""
    return math.isfinite(sum(values))


def skill(loss: float, baseline: Baseline | None) -> float:
    """$1 - L/L_0$: 0 for a constant guess, 1 for a perfect fit (NaN without a baseline)."""
    if baseline is None or not baseline.loss > 0:
        return math.nan
    return 1 - loss / baseline.loss


def accuracy_skill(accuracy: float, baseline: Baseline | None) -> float:
    """$(a - a_0) / (1 - a_0)$ over the majority-class rate $a_0$ (NaN for regression)."""
    if baseline is None or not 0 < baseline.majority < 1:
        return math.nan
    return (accuracy - baseline.majority) / (1 - baseline.majority)


def improvement(losses: Sequence[float], n: int) -> float:
    """How much the loss fell over the last ``n`` epochs, as a fraction of where it was: the
    median of the window's first third against that of its last third (negative: it rose).
    NaN until there are ``n + 1`` finite values."""
    window = list(losses[-n - 1 :])
    if n <= 0 or len(losses) <= n or not finite(window):
        return math.nan
    k = max(1, len(window) // 3)
    then, now = statistics.median(window[:k]), statistics.median(window[-k:])
    return (then - now) / abs(then) if then != 0 else 0.0


# ---- runaway losses ---------------------------------------------------------------------


@dataclass(frozen=True)
class Runaway:
    """A loss that grew ``recent / reference`` times over its start."""

    start: float
    reference: float  # max(start, the constant-guess loss): what "grew" is measured against
    recent: float  # median of the last few steps

    @property
    def factor(self) -> float:
        return self.recent / self.reference


def diverging(
    start: float, recent: Sequence[float], guess_loss: float = math.nan, factor: float = 100.0
) -> Runaway | None:
    """The training loss ran away: the median of the ``recent`` step losses (3 of them, so one
    bad batch is not enough) is over ``factor`` (two orders of magnitude) times the larger of
    the first step's loss and the constant-guess loss. Non-finite losses are the non-finite
    diagnosis' business, not this one's."""
    if len(recent) < 3 or not math.isfinite(start) or start < 0:
        return None
    level = statistics.median(recent[-3:])
    reference = max(start, guess_loss) if math.isfinite(guess_loss) else start
    if math.isfinite(level) and reference > 0 and level > factor * reference:
        return Runaway(start, reference, level)
    return None


@dataclass(frozen=True)
class Rise:
    """Over the last epochs the loss was about ``recent`` (from ``low`` to ``high``, changing by
    a median ``jump`` of its level from one epoch to the next); its ``best`` before them was at
    epoch ``best_epoch`` (1-based)."""

    best: float
    best_epoch: int
    recent: float
    low: float
    high: float
    jump: float


def jumpiness(losses: Sequence[float]) -> float:
    """Median of the absolute epoch-to-epoch changes of ``losses``, over their median."""
    if len(losses) < 3:
        return math.nan
    steps = [abs(b - a) for a, b in itertools.pairwise(losses)]
    level = statistics.median(losses)
    return statistics.median(steps) / level if level > 0 else math.nan


def unstable(
    train: Sequence[float], guess_loss: float, n: int = 10, factor: float = 1.5
) -> Rise | None:
    """The training loss went back up and stayed up: each of the last ``n`` epochs is over
    ``factor`` times the best epoch before them, and the rise is over a tenth of the
    constant-guess loss (so a converged loss bouncing between 0.001 and 0.003 is no rise).

    (A loss that bounces around a poor level without improving is the other face of too large
    steps: :func:`bouncing`.)"""
    if len(train) <= n or not min(train[-n:]) > factor * min(train[:-n]):  # the usual case
        return None
    found = _recent(train, n)
    if found is None or not math.isfinite(guess_loss):
        return None
    return found if found.recent - found.best > 0.1 * guess_loss else None


def bouncing(
    train: Sequence[float], fit: Fit | None, n: int = 10, jump: float = 0.02
) -> Rise | None:
    """The fit is poor, the last ``n`` epochs' median loss is no better than the best before
    them, and the loss jumps by over 2% of its level from one epoch to the next: too large
    steps. (A poor fit that is merely stuck moves smoothly; a slow healthy run improves.)"""
    found = _recent(train, n)
    if found is None or fit is None or not fit.poor:
        return None
    return found if found.jump > jump and found.recent >= found.best else None


def _recent(train: Sequence[float], n: int) -> Rise | None:
    """The last ``n`` epochs against the best before them (None until there are ``n + 1``)."""
    if n <= 0 or len(train) <= n or not finite(train):
        return None
    before, last = list(train[:-n]), list(train[-n:])
    best = min(before)
    return Rise(best, before.index(best) + 1, statistics.median(last), min(last), max(last),
                jumpiness(last))  # fmt: skip


# ---- stuck, poor fits ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """How well the model fits its training data now: its ``loss`` and ``accuracy``, loss
    ``skill`` (R^2 for regression) and ``accuracy_skill``; ``improvement`` of the loss over the
    last ``window`` epochs."""

    loss: float
    accuracy: float  # NaN for regression
    skill: float
    accuracy_skill: float
    improvement: float
    window: int

    @property
    def poor(self) -> bool:
        """Less than a third of the way from a constant guess to a perfect fit."""
        return self.skill < POOR_SKILL or self.accuracy_skill < POOR_SKILL

    @property
    def stalled(self) -> bool:
        return self.improvement < STALL


def fit_now(
    train: Sequence[float],
    accuracy: Sequence[float],
    baseline: Baseline | None,
    n: int,
    smooth: int = 3,
) -> Fit | None:
    """The :class:`Fit` of the last ``smooth`` epochs (medians, so one noisy epoch does not
    decide), with the loss's improvement over the last ``n`` epochs (or the whole run when it
    is shorter). None before 2 epochs or without a baseline."""
    if baseline is None or len(train) < 2:
        return None
    loss = statistics.median(train[-smooth:])
    acc = statistics.median(accuracy[-smooth:]) if accuracy else math.nan
    window = min(n, len(train) - 1)
    return Fit(
        loss, acc, skill(loss, baseline), accuracy_skill(acc, baseline),
        improvement(train, window), window,
    )  # fmt: skip


def plateau(fit: Fit | None, moved: float, n: int) -> bool:
    """Stuck near where it started: the loss improved by under 5% in ``n`` epochs, the fit is
    still poor, and the weights moved less than 1% of their norm since the start (``moved``):
    the steps are too small to get anywhere. A model that moved but stopped (a linear model at
    its best) is underfitting, not on a plateau; a poor loss that rose is unstable."""
    return (
        fit is not None
        and fit.window >= n
        and -STALL < fit.improvement < CRAWL  # barely falling, not rising
        and fit.poor
        and moved < STUCK_MOVE
    )


def underfitting(fit: Fit | None, n: int, final: bool = False) -> bool:
    """The fit is poor and the loss has stopped improving: by under 1% over the ``fit``'s
    window, once ``n`` epochs are there to look at; or, at the end of the run (``final``),
    by under 5% (a loss still crawling down is worth a word then, not while it may yet
    escape a plateau). A short run whose loss is still falling fast is still learning."""
    if fit is None or not fit.poor:
        return False
    return fit.improvement < CRAWL if final else fit.window >= n and fit.stalled


def loss_scale(
    r2: Sequence[float], baseline: Baseline | None, first_loss: float, epochs: int = 3
) -> bool:
    """Regression on an unscaled target: the training $R^2$ stayed below 0 (worse than
    predicting the mean) for the last ``epochs`` epochs, and the target is large (its root mean
    square over 10: a network's outputs start near 0), or, when the targets are unknown, the
    first loss was over 100 (standardized targets start near 1)."""
    if len(r2) < epochs or not all(v < 0 for v in r2[-epochs:]):
        return False
    if baseline is not None and math.isfinite(baseline.target_scale):
        return baseline.target_scale > 10
    return first_loss > 100


# ---- train against validation -------------------------------------------------------------


@dataclass(frozen=True)
class Overfit:
    """Validation loss rose from ``val_best`` (epoch ``best_epoch``) to ``val_now`` while the
    training loss fell from ``train_then`` to ``train_now``."""

    best_epoch: int
    val_best: float
    val_now: float
    train_then: float
    train_now: float


def overfitting(
    val: Sequence[float],
    train: Sequence[float],
    n: int,
    guess_loss: float = math.nan,
    n_val: int | None = None,
) -> Overfit | None:
    """The validation loss really rose while the training loss kept falling:

    - no new best validation loss for ``n`` epochs;
    - each of the last ``k = max(3, n // 2)`` validation losses is over 1.1x the best, and
      their median over 1.2x the median around the best epoch (a real rise, not a lucky dip
      followed by noise);
    - the training loss's median over those epochs is under 0.9x its median around the best
      epoch;
    - the rise is over twice the median epoch-to-epoch change of the validation loss since
      just before its best (a real rise stands out of the jumps), over 1% of the
      constant-guess loss $L_0$, and over $2 L_0 / n_{val}$: more than two of ``n_val``
      validation examples going from right to a constant guess would add (on 30 rows, one
      example turning confidently wrong moves the mean loss by about 0.03).

    Medians over ``k`` epochs make it blind to single noisy epochs.
    """
    if n <= 0 or len(val) <= n or len(train) != len(val):
        return None
    if not (finite(val) and finite(train)):
        return None
    best = min(val)
    b = val.index(best)
    if len(val) - 1 - b < n:
        return None
    k = max(3, n // 2)
    around = slice(max(0, b - k // 2), b + k // 2 + 1)
    v_then, t_then = statistics.median(val[around]), statistics.median(train[around])
    v_now, t_now = statistics.median(val[-k:]), statistics.median(train[-k:])
    rose = min(val[-k:]) > 1.1 * best and v_now > 1.2 * v_then
    fell = t_now < 0.9 * t_then
    since = val[max(0, b - k) :]  # from just before the best: a lucky dip in a noisy run
    noise = statistics.median(abs(y - x) for x, y in itertools.pairwise(since))
    large = v_now - v_then > 2 * noise
    if math.isfinite(guess_loss):
        least = 0.01 * guess_loss if not n_val else max(0.01, 2 / n_val) * guess_loss
        large = large and v_now - v_then > least
    return Overfit(b + 1, best, v_now, t_then, t_now) if rose and fell and large else None


@dataclass(frozen=True)
class Gap:
    """Training against validation metric (accuracy or R^2) over the last epochs; ``z`` is the
    gap in standard errors of the validation estimate."""

    metric: str
    train: float
    val: float
    z: float


def generalization_gap(
    metric: str,
    train: Sequence[float],
    val: Sequence[float],
    n_val: int | None,
    smooth: int = 3,
) -> Gap | None:
    r"""The model does clearly better on its training data than on new data (medians of the
    last ``smooth`` epochs), by more than chance on ``n_val`` validation rows allows:

    - accuracy over 5 points higher, and over 3 standard errors $\sqrt{p(1-p)/n}$ ($p$ the
      mean of the two accuracies);
    - $R^2$ over 0.2 higher, and over 3 standard errors of the validation $R^2$, about
      $(1 - R^2)\sqrt{2/n}$ (the relative error of a mean of $n$ squared Gaussian errors).
    """
    if len(train) < smooth or len(val) < smooth or not n_val:
        return None
    t, v = statistics.median(train[-smooth:]), statistics.median(val[-smooth:])
    if not (math.isfinite(t) and math.isfinite(v)):
        return None
    if metric == "accuracy":
        p = min(max((t + v) / 2, 1 / n_val), 1 - 1 / n_val)
        z = (t - v) / math.sqrt(p * (1 - p) / n_val)
        return Gap(metric, t, v, z) if t - v > 0.05 and z > 3 else None
    z = (t - v) / max((1 - v) * math.sqrt(2 / n_val), 1e-12)
    return Gap(metric, t, v, z) if t - v > 0.2 and z > 3 else None


# ---- gradients (need the layer monitor) ---------------------------------------------------


@dataclass(frozen=True)
class Growth:
    """The total gradient norm grew from ``before`` to ``recent`` (medians) by ``step``."""

    step: int
    before: float
    recent: float


def exploding(
    norms: Sequence[float],
    losses: Sequence[float],
    first_loss: float,
    start: int = 3,
    factor: float = 10.0,
) -> Growth | None:
    """The first step ``t >= start`` (0-based) where the median total gradient norm of steps
    ``t-2..t`` is over ``factor`` times the median of the up to 10 steps before and above every
    earlier step's norm, while the loss (median of those 3 steps) is over 1.5x the run's
    ``first_loss``: the updates run away. A net leaving a flat start has growing gradients and
    a falling loss, and is learning; a late spike of a converged run's tiny gradients leaves
    its loss far below where it started. ``losses[t]`` is step ``t``'s loss."""
    highest = max((v for v in norms[: max(0, start - 2)] if math.isfinite(v)), default=0.0)
    for t in range(max(3, start), min(len(norms), len(losses))):
        if math.isfinite(norms[t - 3]):
            highest = max(highest, norms[t - 3])
        recent = _finite_median(norms[t - 2 : t + 1])
        before = _finite_median(norms[max(0, t - 12) : t - 2])
        if before > 0 and recent > factor * before and recent > highest:
            loss_now = statistics.median(losses[t - 2 : t + 1])  # NaN or inf: not better
            if not loss_now < 1.5 * first_loss:
                return Growth(t + 1, before, recent)
    return None


def dead_relus(
    dead: dict[str, float], poor_fit: bool, fraction: float = 0.5, nearly_all: float = 0.9
) -> dict[str, float]:
    """The ReLU layers (name -> fraction of units that never fired in an epoch) over
    ``fraction`` dead, when that does harm: one is nearly all dead (at least ``nearly_all``:
    it passes almost nothing on), or the fit is poor and stuck (``poor_fit``). Half of a layer
    dead in a run that fits well is capacity it did not need (a 1-d input leaves many units'
    kinks outside the data), not a problem to report."""
    over = {name: v for name, v in dead.items() if v > fraction}
    harmful = poor_fit or any(v >= nearly_all for v in over.values())
    return over if harmful else {}


def vanishing(first: float, last: float, factor: float = 1000.0) -> bool:
    """The first layer's gradient norm is over ``factor`` times smaller than the last's."""
    return math.isfinite(first) and math.isfinite(last) and first * factor < last


def _finite_median(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan
