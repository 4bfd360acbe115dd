r"""Diagnoses in words: during training, say once what went wrong and what to try.

:class:`Diagnoses` is a callback. Each diagnosis is a :class:`~looplab.loop.history.Note`
record (kind, what was seen, advice, epoch, step and the numbers behind it), added to
``history.notes`` the first time it is seen (the progress bar prints new notes; the run saves
them in ``messages.txt`` and the report):

- ``non-finite loss``: the step, and the first layer (in forward order) whose gradient is
  non-finite (:func:`first_nonfinite_layer`), with why when the initial weights were too large;
- ``exploding gradients``: the total gradient norm grew more than 10x within a few steps;
- ``vanishing gradients``: the first layer's gradient norm is over 1000x smaller than the last's;
- ``dead ReLUs``: more than half of a layer's units never fired during an epoch;
- ``plateau``: the training loss has not improved for ``plateau_epochs`` epochs;
- ``overfitting``: validation loss rising for ``overfit_epochs`` epochs while training loss falls.

The first two and the last two need no monitors; exploding, vanishing and dead ReLUs read a
:class:`~looplab.watch.monitors.LayerMonitor`'s columns, so they need ``--monitor``.
"""

from __future__ import annotations

import math
import statistics

import torch
from torch import Tensor, nn

from looplab.loop.events import Callback
from looplab.loop.history import History, Note, Row
from looplab.loop.state import LoopState
from looplab.watch.monitors import LayerMonitor, linear_layers

NONFINITE = "non-finite loss"
EXPLODING = "exploding gradients"
VANISHING = "vanishing gradients"
DEAD_RELU = "dead ReLUs"
PLATEAU = "plateau"
OVERFITTING = "overfitting"
MESSAGES_FILE = "messages.txt"  # what the run said, one message a line, in the run directory
KINDS = (NONFINITE, EXPLODING, VANISHING, DEAD_RELU, PLATEAU, OVERFITTING)

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


class Diagnoses(Callback):
    """Watches the run and adds each diagnosis once to ``state.history.notes``.

    Pass the run's ``monitor`` to get the diagnoses that need per-layer statistics (and the
    exact step at which a gradient first went non-finite).
    """

    def __init__(
        self,
        monitor: LayerMonitor | None = None,
        *,
        plateau_epochs: int = 20,
        overfit_epochs: int = 10,
        explode_factor: float = 10.0,
        vanish_factor: float = 1000.0,
        dead_fraction: float = 0.5,
    ) -> None:
        self.monitor = monitor
        self.plateau_epochs = plateau_epochs
        self.overfit_epochs = overfit_epochs
        self.explode_factor = explode_factor
        self.vanish_factor = vanish_factor
        self.dead_fraction = dead_fraction
        self.said: set[str] = set()
        self.first_loss = math.nan
        self.oversized: list[tuple[str, float, int]] = []
        self._checked_steps = 0

    def on_fit_start(self, state: LoopState) -> None:
        self.oversized = oversized_layers(state.model)

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if NONFINITE in self.said:
            return
        value = float(loss.detach())
        if state.step == 1:
            self.first_loss = value
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
        why, advice = self._why_nonfinite(state)
        numbers = {"step": float(state.step), "loss": value, "first_loss": self.first_loss}
        self._say(state, Note(NONFINITE, f"{what}; {why}", advice, epoch, state.step, numbers))

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        history = state.history
        if NONFINITE in self.said:  # after a NaN every other statistic is meaningless
            return
        if self.monitor is not None:
            self._check_exploding(state)
            self._check_vanishing(state, epoch, row)
            self._check_dead(state, epoch, row)
        self._check_plateau(state, epoch, history)
        self._check_overfitting(state, epoch, history)

    # ---- the diagnoses ------------------------------------------------------------------

    def _why_nonfinite(self, state: LoopState) -> tuple[str, str]:
        """Why the loss went non-finite ("why: ..."), and what to try ("try ...")."""
        lr = state.lr
        first = f"{self.first_loss:.4g}" if math.isfinite(self.first_loss) else "?"
        if self.oversized:
            name, std, fan_in = max(self.oversized, key=lambda t: t[1] * math.sqrt(t[2]))
            scaled = 1 / math.sqrt(fan_in)
            return (
                f"why: the initial weights are too large for this width ({name} has std "
                f"{std:.3g} over fan-in {fan_in}, {std / scaled:.3g}x the 1/sqrt(fan_in) = "
                f"{scaled:.3g} of a scaled initialization), so the first loss ({first}) and "
                f"gradients are huge and each step at lr {lr:g} overshoots further",
                f"try a scaled initialization (PyTorch's default, --init xavier_normal, or "
                f"--init kaiming_normal with standardized inputs) or a lower learning rate "
                f"(--lr {lr / 10:g})",
            )
        return (
            f"why: the steps overshoot (the loss was {first} at step 1 and grew until it "
            f"overflowed), so lr {lr:g} is too large here",
            f"try a lower learning rate (--lr {lr / 10:g}), standardized inputs, or a scaled "
            f"initialization",
        )

    def _check_exploding(self, state: LoopState) -> None:
        """Median of the last 3 steps' total norms over 10x the median of the 10 before."""
        assert self.monitor is not None
        norms = self.monitor.step_totals
        start, self._checked_steps = max(3, self._checked_steps), len(norms)
        for t in range(start, len(norms)):
            recent = _finite_median(norms[t - 2 : t + 1])
            before = _finite_median(norms[max(0, t - 12) : t - 2])
            if before > 0 and recent > self.explode_factor * before:
                self._say(state, Note(
                    EXPLODING,
                    f"by step {t + 1} the total gradient norm grew {recent / before:.3g}x within a "
                    f"few steps (median {before:.3g} -> {recent:.3g}), so the updates are running "
                    f"away",
                    f"try a lower learning rate (--lr {state.lr / 10:g}), gradient clipping, "
                    f"or a scaled initialization",
                    state.epoch + 1, t + 1, {"before": before, "recent": recent},
                ))  # fmt: skip
                return

    def _check_vanishing(self, state: LoopState, epoch: int, row: Row) -> None:
        names = self.monitor.layer_names if self.monitor else []
        if len(names) < 2:
            return
        first = row.get(f"grad_norm/{names[0]}", math.nan)
        last = row.get(f"grad_norm/{names[-1]}", math.nan)
        if math.isfinite(first) and math.isfinite(last) and first * self.vanish_factor < last:
            ratio = f"{last / first:.3g}x" if first > 0 else "infinitely"
            self._say(state, Note(
                VANISHING,
                f"at epoch {epoch} the gradient norm of {names[0]} ({first:.3g}) is {ratio} "
                f"smaller than that of {names[-1]} ({last:.3g}), so the first layers barely "
                f"learn",
                "try --activation relu, --norm batch or layer, --residual, or a scaled "
                "initialization",
                epoch, state.step, {"first": first, "last": last},
            ))  # fmt: skip

    def _check_dead(self, state: LoopState, epoch: int, row: Row) -> None:
        dead = {
            c.removeprefix("dead_frac/"): v
            for c, v in row.items()
            if c.startswith("dead_frac/") and v > self.dead_fraction
        }
        if dead:
            layers = ", ".join(f"{v:.0%} of {name}'s units" for name, v in dead.items())
            self._say(state, Note(
                DEAD_RELU,
                f"in epoch {epoch}, {layers} never fired (output 0 for every training example), "
                f"so they get no gradient and cannot recover",
                "try a lower learning rate, --activation leaky_relu, a scaled initialization "
                "(--init kaiming_normal), or --norm batch",
                epoch, state.step, dead,
            ))  # fmt: skip

    def _check_plateau(self, state: LoopState, epoch: int, history: History) -> None:
        losses = history.column("train_loss")
        n = self.plateau_epochs
        if n <= 0 or len(losses) <= n or not all(math.isfinite(v) for v in losses[-n - 1 :]):
            return
        best_before = min(losses[:-n])
        if min(losses[-n:]) >= best_before - 1e-4 * abs(best_before):
            self._say(state, Note(
                PLATEAU,
                f"the training loss has not improved for {n} epochs (best {best_before:.4g}, "
                f"now {losses[-1]:.4g} at epoch {epoch})",
                "if it is still too high, try a higher learning rate, a learning-rate schedule "
                "or a larger model; if it is low enough, stop earlier with --patience",
                epoch, state.step, {"best": best_before, "now": losses[-1]},
            ))  # fmt: skip

    def _check_overfitting(self, state: LoopState, epoch: int, history: History) -> None:
        found = overfitting(
            history.column("val_loss"), history.column("train_loss"), self.overfit_epochs
        )
        if found is not None:
            v0, v1, t0, t1 = found
            self._say(state, Note(
                OVERFITTING,
                f"over epochs {epoch - self.overfit_epochs}-{epoch} the validation loss rose "
                f"from about {v0:.4g} to {v1:.4g} while the training loss fell from about "
                f"{t0:.4g} to {t1:.4g}: the model is memorizing the training set",
                "try early stopping (--patience 10), weight decay (--weight-decay 1e-3), "
                "dropout (--dropout 0.2), more data, or a smaller model",
                epoch, state.step, {"val_start": v0, "val_end": v1, "train_start": t0,
                                    "train_end": t1},
            ))  # fmt: skip

    def _say(self, state: LoopState, note: Note) -> None:
        if note.kind not in self.said:
            self.said.add(note.kind)
            state.history.note(note)


def overfitting(
    val: list[float], train: list[float], n: int
) -> tuple[float, float, float, float] | None:
    """Over the last ``n`` epochs, did validation loss rise while training loss fell?

    Robust to single noisy epochs: compares the medians of the window's first and last thirds
    (a rise over 10%, a fall over 2%, both least-squares slopes agreeing), and asks that the
    validation loss end over 10% above the training loss and above its own best. Returns the
    medians (val start, val end, train start, train end), or None.
    """
    if n <= 0 or len(val) <= n:
        return None
    v, t = val[-n - 1 :], train[-n - 1 :]
    if not all(math.isfinite(x) for x in (*v, *t)):
        return None
    k = max(2, len(v) // 3)
    v0, v1 = statistics.median(v[:k]), statistics.median(v[-k:])
    t0, t1 = statistics.median(t[:k]), statistics.median(t[-k:])
    rising = v1 > 1.1 * v0 and _slope(v) > 0 and v1 > 1.1 * min(val)
    falling = t1 < 0.98 * t0 and _slope(t) < 0
    return (v0, v1, t0, t1) if rising and falling and v1 > 1.1 * t1 else None


def _slope(values: list[float]) -> float:
    """Least-squares slope of ``values`` against 0, 1, 2, ..."""
    n = len(values)
    mx, my = (n - 1) / 2, sum(values) / n
    return sum((i - mx) * (y - my) for i, y in enumerate(values)) / sum(
        (i - mx) ** 2 for i in range(n)
    )


def _finite_median(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def nonfinite_explanation(history: History) -> str | None:
    """The "why: ...; try ..." part of a run's non-finite diagnosis, or None.

    :class:`Diagnoses` runs before the divergence guard, so when the guard stops a run the
    explanation is already among ``history.notes``: the guard can add it to its error.
    """
    for note in history.notes_of(NONFINITE):
        if "why: " in note.text:
            return "why: " + note.text.split("why: ", 1)[1] + f"; {note.advice}"
    return None


def diagnoses_in(history: History) -> list[Note]:
    """The diagnoses among a run's notes."""
    return [n for n in history.notes if n.kind in KINDS]
