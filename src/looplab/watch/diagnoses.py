r"""Diagnoses in words: during training, say once what went wrong and what to try.

:class:`Diagnoses` is a callback. Each diagnosis is a :class:`~looplab.loop.history.Note`
record (kind, what was seen, advice, epoch, step and the numbers behind it), added to
``history.notes`` the first time it is seen (the progress bar prints new notes; the run saves
them in ``messages.txt`` and the report). The rules are pure functions of the history in
:mod:`looplab.watch.diagnosis_rules`, the words in :mod:`looplab.watch.diagnosis_notes`.
$L_0$ is the training loss of a constant guess (the class frequencies, or the target's mean);
the fit is *poor* when its skill $1 - L/L_0$ ($R^2$ for regression) or its accuracy skill
$(a - a_0)/(1 - a_0)$ over the majority rate $a_0$ is under 1/3 (medians of 3 epochs):

- ``non-finite loss``: the loss or a gradient became NaN/inf; names the step, the first layer
  (in forward order) whose gradient is non-finite, and why (weights too large, lr, target);
- ``diverging`` (every step): the median of the last 3 step losses is over 100x the larger of
  the first step's loss and $L_0$. The divergence guard stops such a run;
- ``unstable``: each of the last 10 epochs' training losses is over 1.5x the best before them,
  by over $0.1 L_0$; or the fit is poor, the last 10 epochs' median is no better than the best
  before, and the loss changes by over 2% from one epoch to the next (median): lr too large;
- ``loss scale`` (regression): training $R^2 < 0$ for the last 3 epochs and a target whose
  root mean square is over 10 (targets unknown: a first loss over 100): standardize it;
- ``plateau``: the fit is poor, its loss fell by under 5% over the last 20 epochs (median of
  the window's first third against its last third) and did not rise, and the weights moved
  under 1% of their norm since the start: the steps are too small (a higher lr);
- ``underfitting``: the fit is poor and its loss fell by under 1% over the last 20 epochs,
  or, at the end of the run, by under 5% over the last 10. The advice follows the evidence: a
  linear model (an MLP), a loss still falling by over 1% (more epochs, a higher lr), else a
  larger model;
- ``overfitting``: no new best validation loss for 10 epochs; each of the last 5 over 1.1x the
  best and their median over 1.2x the median of the 5 around it; the training loss's median
  under 0.9x its level then; the rise over twice the validation loss's median epoch-to-epoch
  change since the best, over $0.01 L_0$ and over $2 L_0 / n_{val}$. Or, at the end, a
  generalization gap: training accuracy over validation accuracy by over 5 points and 3
  standard errors on $n_{val}$ rows (regression: $R^2$ by over 0.2 and 3 standard errors);
- with ``--monitor`` (a :class:`~looplab.watch.monitors.LayerMonitor`): ``exploding
  gradients`` (the median total gradient norm of 3 steps over 10x that of the 10 before and
  above every earlier step, while the loss is over 1.5x the first), ``vanishing gradients``
  (the first layer's gradient norm over 1000x smaller than the last's, no layer over half
  dead) and ``dead ReLUs`` (over half of a layer's units never fired in an epoch, and either a
  layer is at least 90% dead or the fit is poor and stuck with no other cause named).

A diagnosis is not said after one that it would contradict or that already names its cause
(:data:`BLOCKED_BY`): no "plateau: try a higher lr" after a diverging loss, no vanishing after
exploding gradients, no underfitting after overfitting or dead ReLUs.
"""

from __future__ import annotations

import math
from array import array
from collections import deque

import torch
from torch import Tensor, nn

from looplab.loop.events import Callback
from looplab.loop.history import History, Note, Row
from looplab.loop.state import LoopState
from looplab.watch import diagnosis_rules as rules
from looplab.watch.diagnosis_notes import (
    DEAD_RELU,
    DIVERGING,
    EXPLODING,
    LOSS_SCALE,
    NONFINITE,
    OVERFITTING,
    PLATEAU,
    UNDERFITTING,
    UNSTABLE,
    VANISHING,
    NoteWriter,
    why_runaway,
)
from looplab.watch.diagnosis_rules import Baseline
from looplab.watch.monitors import LayerMonitor, linear_layers

__all__ = [
    "BLOCKED_BY", "DEAD_RELU", "DIVERGING", "EXPLODING", "KINDS", "LOSS_SCALE", "MESSAGES_FILE",
    "NEED_MONITOR", "NONFINITE", "OVERFITTING", "PLATEAU", "UNDERFITTING", "UNSTABLE",
    "VANISHING", "Diagnoses", "RunawayWatch", "baseline_of", "diagnoses_in", "diverging_text",
    "first_nonfinite_layer", "nonfinite_explanation", "other_notes", "oversized_layers",
]  # fmt: skip

MESSAGES_FILE = "messages.txt"  # what the run said, one message a line, in the run directory
KINDS = (NONFINITE, DIVERGING, UNSTABLE, LOSS_SCALE, EXPLODING, VANISHING, DEAD_RELU, PLATEAU,
         UNDERFITTING, OVERFITTING)  # fmt: skip
NEED_MONITOR = (EXPLODING, VANISHING, DEAD_RELU)  # these read a LayerMonitor's columns

_RUNAWAY = {NONFINITE, DIVERGING}
# a named cause of a poor fit: the fit's own diagnosis would only repeat it, with worse advice
_CAUSES = {*_RUNAWAY, EXPLODING, UNSTABLE, LOSS_SCALE, VANISHING, DEAD_RELU}
# A diagnosis is not said after one of these: it would contradict it, or the run's numbers no
# longer mean what the rule assumes (a diverged loss is no plateau).
BLOCKED_BY: dict[str, set[str]] = {
    PLATEAU: {*_CAUSES, UNDERFITTING},
    UNDERFITTING: {*_CAUSES, PLATEAU, OVERFITTING},
    OVERFITTING: {*_RUNAWAY, UNSTABLE, UNDERFITTING},
    UNSTABLE: {*_RUNAWAY, LOSS_SCALE},
    LOSS_SCALE: _RUNAWAY,
    VANISHING: {*_RUNAWAY, EXPLODING},
    EXPLODING: {VANISHING},
}

# the history columns the rules read, kept by the callback as the rows come
_COLUMNS = ("train_loss", "val_loss", "train_accuracy", "train_r2")

# A weight std this many times the 1/sqrt(fan_in) of a scaled initialization is "too large".
OVERSIZED = 2.5


def first_nonfinite_layer(model: nn.Module) -> str | None:
    """Name of the first layer, in forward order, with a NaN or infinite gradient; else None.

    Only layers with their own parameters count (``fc1``, ``norm1``...); parameters without a
    gradient are skipped. A divergence guard can call this right after ``loss.backward()``.
    """
    for name, module in model.named_modules():
        for p in module.parameters(recurse=False):
            if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                return name or type(module).__name__
    return None


def oversized_layers(model: nn.Module) -> list[tuple[str, float, int]]:
    r"""Linear layers whose weight std is over ``OVERSIZED`` x $1/\sqrt{\text{fan\_in}}$:
    ``(name, std, fan_in)`` each. Such weights make the first outputs grow with the width."""
    out = []
    for name, layer in linear_layers(model):
        fan_in = layer.weight.shape[1]
        std = float(layer.weight.detach().std()) if layer.weight.numel() > 1 else 0.0
        if std > OVERSIZED / math.sqrt(fan_in):
            out.append((name, std, fan_in))
    return out


def baseline_of(state: LoopState) -> Baseline | None:
    """The constant guess's loss on the training targets, read from in-memory batches (which
    keep their ``y``); None for streamed data."""
    y = getattr(state.train_batches, "y", None)
    if not isinstance(y, Tensor) or len(y) == 0:
        return None
    val_y = getattr(state.val_batches, "y", None)
    n_val = len(val_y) if isinstance(val_y, Tensor) and len(val_y) else None
    if state.task == "regression":
        mean, var = float(y.double().mean()), float(y.double().var(unbiased=False))
        return Baseline(var, mean=mean, std=math.sqrt(var), n_val=n_val)
    counts = torch.bincount(y.long().flatten()).double()
    p = counts[counts > 0] / counts.sum()  # (classes,)
    return Baseline(float(-(p * p.log()).sum()), majority=float(p.max()), n_val=n_val)


class RunawayWatch:
    """The step losses the ``diverging`` rule reads: the run's first, and the last three.
    The divergence guard keeps one too, so it stops a runaway run without the diagnoses."""

    def __init__(self) -> None:
        self.start = math.nan
        self.recent: deque[float] = deque(maxlen=3)
        self.guess_loss = math.nan

    def on_fit_start(self, state: LoopState) -> None:
        self.recent.clear()  # a rollback or resume starts over from a good checkpoint
        if state.step > 0 and not math.isfinite(self.start) and len(state.history):
            self.start = state.history[0].get("train_loss", math.nan)  # resumed: epoch 1's
        baseline = baseline_of(state)
        self.guess_loss = baseline.loss if baseline is not None else math.nan

    def add(self, state: LoopState, value: float) -> rules.Runaway | None:
        """Record one step's loss; the evidence when the loss has run away, else None."""
        if state.step == 1:
            self.start = value
        self.recent.append(value)
        if not value > 100 * self.start:  # the median of 3 cannot be over 100x: ~all steps
            return None
        return rules.diverging(self.start, list(self.recent), self.guess_loss)


def diverging_text(found: rules.Runaway) -> str:
    """What a runaway loss did, in words."""
    start = f"its start ({found.start:.4g})"
    if found.reference > found.start:  # measured against the larger of the two
        start = f"a constant guess's loss ({found.reference:.4g}; it started at {found.start:.4g})"
    return (
        f"the training loss grew to {found.recent:.3g} (median of the last 3 steps), "
        f"{found.factor:.3g}x {start}"
    )


class Diagnoses(Callback):
    """Watches the run and adds each diagnosis once to ``state.history.notes``: the runaway
    ones after every step, most after every epoch, underfitting and the generalization gap
    also at the end of the run.

    Pass the run's ``monitor`` to get the diagnoses that need per-layer statistics (and the
    exact step at which a gradient first went non-finite). It keeps a copy of the weights at
    the start (how far they moved tells a plateau) and every step's loss as a float.
    """

    def __init__(
        self,
        monitor: LayerMonitor | None = None,
        *,
        plateau_epochs: int = 20,
        overfit_epochs: int = 10,
        unstable_epochs: int = 10,
        explode_factor: float = 10.0,
        vanish_factor: float = 1000.0,
        dead_fraction: float = 0.5,
    ) -> None:
        self.monitor = monitor
        self.plateau_epochs = plateau_epochs
        self.overfit_epochs = overfit_epochs
        self.unstable_epochs = unstable_epochs
        self.explode_factor = explode_factor
        self.vanish_factor = vanish_factor
        self.dead_fraction = dead_fraction
        self.said: set[str] = set()
        self.runaway = RunawayWatch()
        self.losses = array("d")  # every step's loss of this fit, for exploding gradients
        self.oversized: list[tuple[str, float, int]] = []
        self.baseline: Baseline | None = None
        self._notes = NoteWriter(None, plateau_epochs)
        self._columns: dict[str, list[float]] = {name: [] for name in _COLUMNS}
        self._start_weights = torch.zeros(0)  # a copy of the weights at the start of fit
        self._checked_steps = 0

    @property
    def first_loss(self) -> float:
        return self.runaway.start

    def on_fit_start(self, state: LoopState) -> None:
        # what the history already says: nothing on a fresh run; a resumed run's notes; after a
        # rollback, those of the restored checkpoint (the abandoned attempt's no longer hold)
        self.said = {n.kind for n in state.history.notes if n.kind in KINDS}
        self.oversized = oversized_layers(state.model)
        self.baseline = baseline_of(state)
        self._notes = NoteWriter(self.baseline, self.plateau_epochs)
        self._columns = {name: state.history.column(name) for name in _COLUMNS}
        self.runaway.on_fit_start(state)
        self.losses, self._checked_steps = array("d"), 0
        self._start_weights = _flat_weights(state.model)

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if NONFINITE in self.said:
            return
        value = float(loss.detach())
        self.losses.append(value)
        found = self.runaway.add(state, value)
        if found is not None:
            why, advice = self._why_runaway(state, overflowed=False)
            text = f"by step {state.step} (epoch {epoch}) {diverging_text(found)}; {why}"
            numbers = {"start": found.start, "recent": found.recent, "factor": found.factor}
            self._say(state, Note(DIVERGING, text, advice, epoch, state.step, numbers))
        grads_bad = self.monitor is not None and self.monitor.last_step_finite() is False
        if math.isfinite(value) and not grads_bad:
            return
        layer = first_nonfinite_layer(state.model)
        where = f"step {state.step} (epoch {epoch})"
        if math.isfinite(value):
            part = f"the gradient of {layer}" if layer else "a weight"
            what = f"at {where} {part} went non-finite (loss still {value:.3g})"
        else:
            what = f"the loss became {value} at {where}"
            if layer is not None:
                what += f"; the first layer with a non-finite gradient is {layer}"
            else:
                what += " (every gradient still finite: the loss itself overflowed)"
        why, advice = self._why_runaway(state, overflowed=True)
        numbers = {"step": float(state.step), "loss": value, "first_loss": self.first_loss}
        self._say(state, Note(NONFINITE, f"{what}; {why}", advice, epoch, state.step, numbers))

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        if NONFINITE in self.said:  # after a NaN every other statistic is meaningless
            return
        history = state.history
        for name, values in self._columns.items():  # kept as they come: no scan per epoch
            values.append(row.get(name, math.nan))
        train = self._columns["train_loss"]
        fit = self._fit()
        if self.monitor is not None:
            self._check_exploding(state)
            self._check_vanishing(state, epoch, row)
            # a poor, stuck fit is the dead units' doing unless something else was named
            poor = rules.underfitting(fit, self.plateau_epochs) and not self.said & _CAUSES
            self._check_dead(state, epoch, row, poor)
        self._check_loss_scale(state, epoch, history)
        n = self.unstable_epochs
        poor = fit is not None and fit.poor  # most rules below are about poor fits: cheap first
        rise = rules.unstable(train, self._guess_loss, n)
        if rise is None and poor:
            rise = rules.bouncing(train, fit, n)
        if rise is not None:
            self._say(state, self._notes.unstable(rise, state, epoch, n))
        stuck = poor and fit is not None and fit.window >= self.plateau_epochs
        moved = self._moved(state) if stuck else math.inf  # a copy of the weights: only then
        if rules.plateau(fit, moved, self.plateau_epochs):
            assert fit is not None
            self._say(state, self._notes.plateau(fit, moved, state, epoch))
        if rules.underfitting(fit, self.plateau_epochs):
            assert fit is not None
            self._say(state, self._notes.underfitting(fit, state, epoch))
        val = self._columns["val_loss"]
        n_val = self.baseline.n_val if self.baseline else None
        found = rules.overfitting(val, train, self.overfit_epochs, self._guess_loss, n_val)
        if found is not None:
            self._say(state, self._notes.overfitting(found, state, epoch))

    def on_fit_end(self, state: LoopState, history: History) -> None:
        """What only the whole run shows: a fit still poor at the end, a train/val gap."""
        if NONFINITE in self.said or not len(history):
            return
        epoch = len(history)
        fit = self._fit(max(2, self.plateau_epochs // 2))  # how the run ended: a shorter window
        if rules.underfitting(fit, self.plateau_epochs, final=True):
            assert fit is not None
            self._say(state, self._notes.underfitting(fit, state, epoch))
        if fit is None or fit.poor:  # a gap of a poor fit is not overfitting
            return
        metric = "r2" if state.task == "regression" else "accuracy"
        n_val = self.baseline.n_val if self.baseline else None
        gap = rules.generalization_gap(
            metric, history.column(f"train_{metric}"), history.column(f"val_{metric}"), n_val
        )
        if gap is not None:
            self._say(state, self._notes.gap(gap, n_val or 0, state, epoch))

    # ---- evidence the rules need ------------------------------------------------------------

    @property
    def _guess_loss(self) -> float:
        return self.baseline.loss if self.baseline is not None else math.nan

    def _fit(self, window: int = 0) -> rules.Fit | None:
        """The fit now, with the loss's improvement over ``window`` epochs (default: the
        plateau window)."""
        columns = self._columns  # (a regression run's accuracy is NaN: no accuracy skill)
        return rules.fit_now(
            columns["train_loss"], columns["train_accuracy"], self.baseline,
            window or self.plateau_epochs,
        )  # fmt: skip

    def _moved(self, state: LoopState) -> float:
        """How far the weights moved since the start, as a fraction of their norm then."""
        now, start = _flat_weights(state.model), self._start_weights
        if now.shape != start.shape or float(start.norm()) == 0:
            return math.inf
        return float((now - start).norm() / start.norm())

    def _why_runaway(self, state: LoopState, overflowed: bool) -> tuple[str, str]:
        """Why the loss ran away ("why: ..."), and what to try ("try ...")."""
        return why_runaway(state.lr, self.first_loss, self.oversized, self.baseline, overflowed)

    def _check_loss_scale(self, state: LoopState, epoch: int, history: History) -> None:
        if state.task == "regression" and rules.loss_scale(
            self._columns["train_r2"], self.baseline, self.first_loss
        ):
            self._say(state, self._notes.loss_scale(history, self.first_loss, state, epoch))

    def _check_exploding(self, state: LoopState) -> None:
        assert self.monitor is not None
        norms = self.monitor.step_totals[-len(self.losses) :] if len(self.losses) else []
        found = rules.exploding(
            norms, self.losses, self.first_loss, self._checked_steps, self.explode_factor
        )
        self._checked_steps = len(norms)
        if found is not None:
            self._say(state, self._notes.exploding(found, state))

    def _check_vanishing(self, state: LoopState, epoch: int, row: Row) -> None:
        names = self.monitor.layer_names if self.monitor else []
        if len(names) < 2:
            return
        first = row.get(f"grad_norm/{names[0]}", math.nan)
        last = row.get(f"grad_norm/{names[-1]}", math.nan)
        dead = any(v > self.dead_fraction for c, v in row.items() if c.startswith("dead_frac/"))
        if not dead and rules.vanishing(first, last, self.vanish_factor):  # dead: no gradient
            self._say(state, self._notes.vanishing(names, first, last, state, epoch))

    def _check_dead(self, state: LoopState, epoch: int, row: Row, poor_fit: bool) -> None:
        fractions = {c.removeprefix("dead_frac/"): v for c, v in row.items()
                     if c.startswith("dead_frac/")}  # fmt: skip
        dead = rules.dead_relus(fractions, poor_fit, self.dead_fraction)
        if dead:
            self._say(state, self._notes.dead(dead, epoch, state.step))

    def _say(self, state: LoopState, note: Note) -> None:
        if note.kind not in self.said and not BLOCKED_BY.get(note.kind, set()) & self.said:
            self.said.add(note.kind)
            state.history.note(note)


def _flat_weights(model: nn.Module) -> Tensor:
    """Every parameter of ``model`` in one detached 1-D copy."""
    params = [p.detach().reshape(-1) for p in model.parameters()]
    return torch.cat(params).clone() if params else torch.zeros(0)


def nonfinite_explanation(history: History) -> str | None:
    """The "why: ...; try ..." part of a run's non-finite or diverging diagnosis, or None.

    :class:`Diagnoses` runs before the divergence guard, so when the guard stops a run the
    explanation is already among ``history.notes``: the guard can add it to its error.
    """
    for note in [*history.notes_of(NONFINITE), *history.notes_of(DIVERGING)]:
        if "why: " in note.text:
            return "why: " + note.text.split("why: ", 1)[1] + f"; {note.advice}"
    return None


def diagnoses_in(history: History) -> list[Note]:
    """The diagnoses among a run's notes."""
    return [n for n in history.notes if n.kind in KINDS]


def other_notes(history: History) -> list[Note]:
    """The run's notes that are not diagnoses: early stopping, rollbacks, the data's notes."""
    return [n for n in history.notes if n.kind not in KINDS]
