"""The words of the diagnoses: each rule's evidence (:mod:`looplab.watch.diagnosis_rules`)
turned into a :class:`~looplab.loop.history.Note` saying what was seen, with its numbers, and
what to try, chosen by the evidence (never "a higher learning rate" to a loss that rose)."""

from __future__ import annotations

import math

from torch import nn

from looplab.loop.history import History, Note
from looplab.loop.state import LoopState
from looplab.watch import diagnosis_rules as rules
from looplab.watch.diagnosis_rules import Baseline
from looplab.watch.monitors import activation_layers, linear_layers

NONFINITE = "non-finite loss"
DIVERGING = "diverging"
UNSTABLE = "unstable"
LOSS_SCALE = "loss scale"
EXPLODING = "exploding gradients"
VANISHING = "vanishing gradients"
DEAD_RELU = "dead ReLUs"
PLATEAU = "plateau"
UNDERFITTING = "underfitting"
OVERFITTING = "overfitting"

REGULARIZE = (
    "weight decay (--weight-decay 1e-3), dropout (--dropout 0.2), more data, or a smaller model"
)


def is_linear(model: nn.Module) -> bool:
    """One linear layer, or every activation the identity: the model is a linear function."""
    acts = [m for _, m in activation_layers(model)]
    return len(linear_layers(model)) == 1 or all(isinstance(m, nn.Identity) for m in acts)


def saturates(model: nn.Module) -> bool:
    """Some activation is a sigmoid or tanh, whose slope vanishes for large inputs."""
    return any(isinstance(m, nn.Sigmoid | nn.Tanh) for _, m in activation_layers(model))


def why_runaway(
    lr: float,
    first_loss: float,
    oversized: list[tuple[str, float, int]],
    baseline: Baseline | None,
    overflowed: bool,
) -> tuple[str, str]:
    """Why a loss ran away or overflowed ("why: ..."), and what to try ("try ...")."""
    first = f"{first_loss:.4g}" if math.isfinite(first_loss) else "?"
    if oversized:
        name, std, fan_in = max(oversized, key=lambda t: t[1] * math.sqrt(t[2]))
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
    large = baseline is not None and baseline.target_scale > 10
    target = (
        f"; the target is large (mean {baseline.mean:.4g}, std {baseline.std:.4g}), which makes "
        "the loss and its gradients large too"
        if large and baseline is not None
        else ""
    )
    grew = "grew until it overflowed" if overflowed else "grows with each step"
    return (
        f"why: the steps overshoot (the loss was {first} at step 1 and {grew}), so lr {lr:g} "
        f"is too large here{target}",
        f"try a lower learning rate (--lr {lr / 10:g})"
        + (", a standardized target" if large else ", standardized inputs")
        + ", or a scaled initialization",
    )


def _percent(x: float) -> str:
    return f"{x:.2%}" if x >= 1e-4 else "under 0.01%"


class NoteWriter:
    """Writes each diagnosis' note; ``baseline`` is the constant guess on the training targets,
    ``window`` the epochs over which plateau and underfitting look for improvement."""

    def __init__(self, baseline: Baseline | None, window: int) -> None:
        self.baseline = baseline
        self.window = window

    def unstable(self, rise: rules.Rise, state: LoopState, epoch: int, n: int) -> Note:
        return Note(
            UNSTABLE,
            f"over the last {n} epochs the training loss was about {rise.recent:.4g} (between "
            f"{rise.low:.4g} and {rise.high:.4g}, changing by {rise.jump:.0%} from one epoch to "
            f"the next), {rise.recent / rise.best:.3g}x its best {rise.best:.4g} (epoch "
            f"{rise.best_epoch}): the steps overshoot instead of settling",
            f"try a lower learning rate (--lr {state.lr / 10:g}) or a decaying schedule "
            f"(--schedule cosine)",
            epoch, state.step, {"best": rise.best, "recent": rise.recent, "jump": rise.jump},
        )  # fmt: skip

    def _fit_words(self, fit: rules.Fit, state: LoopState) -> str:
        b = self.baseline
        assert b is not None  # a Fit needs a baseline
        if state.task == "regression":
            return (
                f"training R^2 {fit.skill:.3g} (0 is always predicting the mean): the training "
                f"loss {fit.loss:.4g} against the target's variance {b.loss:.4g}"
            )
        return (
            f"training accuracy {fit.accuracy:.3g} against {b.majority:.3g} for always "
            f"guessing the most common class, training loss {fit.loss:.4g} against "
            f"{b.loss:.4g} for a constant guess"
        )

    def plateau(self, fit: rules.Fit, moved: float, state: LoopState, epoch: int) -> Note:
        return Note(
            PLATEAU,
            f"the training loss improved by {_percent(fit.improvement)} in {fit.window} epochs "
            f"and the weights moved only {_percent(moved)} of their norm since the start, "
            f"with the fit still poor ({self._fit_words(fit, state)}): the steps are too small "
            f"to get anywhere",
            f"try a higher learning rate (--lr {state.lr * 10:g})",
            epoch, state.step, {"loss": fit.loss, "skill": fit.skill, "moved": moved},
        )  # fmt: skip

    def underfitting(self, fit: rules.Fit, state: LoopState, epoch: int) -> Note:
        widths = [m.out_features for _, m in linear_layers(state.model)][:-1]
        advice = []
        if is_linear(state.model):
            advice.append(
                "a linear model can only draw straight lines (flat boundaries): try --model mlp"
                if not widths
                else "with --activation identity the MLP is a linear model: try --activation relu"
            )
        if not fit.stalled and not advice:  # a linear model's first fix is not more epochs
            advice.append(
                f"the loss is still falling, slowly ({fit.improvement:.1%} in the last "
                f"{fit.window} epochs): train longer (--epochs {2 * state.epochs}) or with a "
                f"higher learning rate (--lr {state.lr * 3:g})"
            )
        elif not advice:
            bigger = ",".join(str(2 * w) for w in widths)
            advice.append(
                f"try a larger model (--hidden {bigger}) or a learning-rate schedule; if the "
                f"labels are noisy, a poor fit may be all the data allows"
            )
        return Note(
            UNDERFITTING,
            f"after {epoch} epochs the model fits its own training data poorly "
            f"({self._fit_words(fit, state)})",
            "; ".join(advice),
            epoch, state.step,
            {"loss": fit.loss, "skill": fit.skill, "accuracy_skill": fit.accuracy_skill,
             "improvement": fit.improvement},
        )  # fmt: skip

    @staticmethod
    def _regularize(state: LoopState) -> str:
        if state.stopper.patience > 0:
            return (
                f"early stopping is on and will restore the best epoch's weights; also try "
                f"{REGULARIZE}"
            )
        return f"try early stopping (--patience 10), {REGULARIZE}"

    def overfitting(self, found: rules.Overfit, state: LoopState, epoch: int) -> Note:
        return Note(
            OVERFITTING,
            f"the validation loss rose from its best {found.val_best:.4g} (epoch "
            f"{found.best_epoch}) to about {found.val_now:.4g} by epoch {epoch}, while the "
            f"training loss fell from about {found.train_then:.4g} to {found.train_now:.4g}: "
            f"the model is memorizing the training set",
            self._regularize(state),
            epoch, state.step,
            {"val_best": found.val_best, "val_now": found.val_now,
             "train_then": found.train_then, "train_now": found.train_now},
        )  # fmt: skip

    def gap(self, gap: rules.Gap, n_val: int, state: LoopState, epoch: int) -> Note:
        name = "R^2" if gap.metric == "r2" else "accuracy"
        size = f"{gap.train - gap.val:.3g}, {gap.z:.1f} standard errors on {n_val} validation rows"
        return Note(
            OVERFITTING,
            f"at the end the training {name} is {gap.train:.3f} but the validation {name} "
            f"{gap.val:.3f} (a gap of {size}): the model fits its training data clearly better "
            f"than new data (a generalization gap)",
            self._regularize(state),
            epoch, state.step, {"train": gap.train, "val": gap.val, "z": gap.z},
        )  # fmt: skip

    def loss_scale(self, history: History, first_loss: float, state: LoopState, epoch: int) -> Note:
        loss, r2 = history.last["train_loss"], history.last["train_r2"]
        b = self.baseline
        if b is not None:
            target = f"the target is large (mean {b.mean:.4g}, std {b.std:.4g})"
        else:
            target = f"the first loss was {first_loss:.4g}: the target is large"
        return Note(
            LOSS_SCALE,
            f"after {epoch} epochs the training loss is {loss:.4g}, {1 - r2:.3g}x the target's "
            f"variance (training R^2 {r2:.3g}, worse than always predicting the mean): {target}, "
            f"and a network's outputs start near 0 and move by about the learning rate per step",
            "standardize the target, as the inputs are (--standardize-target, the default of "
            "looplab train; by hand: subtract its training mean, divide by its std, and undo "
            "that for predictions)",
            epoch, state.step, {"loss": loss, "r2": r2, "first_loss": first_loss},
        )  # fmt: skip

    def exploding(self, found: rules.Growth, state: LoopState) -> Note:
        return Note(
            EXPLODING,
            f"by step {found.step} the total gradient norm grew {found.recent / found.before:.3g}x "
            f"within a few steps (median {found.before:.3g} -> {found.recent:.3g}) and the loss "
            f"is worse than at the start, so the updates are running away",
            f"try a lower learning rate (--lr {state.lr / 10:g}), gradient clipping, or a "
            f"scaled initialization",
            state.epoch + 1, found.step, {"before": found.before, "recent": found.recent},
        )  # fmt: skip

    def vanishing(
        self, names: list[str], first: float, last: float, state: LoopState, epoch: int
    ) -> Note:
        ratio = f"{last / first:.3g}x" if first > 0 else "infinitely"
        fixes = "--norm batch or layer, --residual, or a scaled initialization"
        if saturates(state.model):  # sigmoid/tanh: their slope is at most 1/4 or 1
            fixes = "--activation relu, " + fixes
        return Note(
            VANISHING,
            f"at epoch {epoch} the gradient norm of {names[0]} ({first:.3g}) is {ratio} "
            f"smaller than that of {names[-1]} ({last:.3g}), so the first layers barely learn",
            f"try {fixes}",
            epoch, state.step, {"first": first, "last": last},
        )  # fmt: skip

    def dead(self, dead: dict[str, float], epoch: int, step: int) -> Note:
        layers = ", ".join(f"{v:.0%} of {name}'s units" for name, v in dead.items())
        return Note(
            DEAD_RELU,
            f"in epoch {epoch}, {layers} never fired (output 0 for every training example), "
            f"so they get no gradient and cannot recover",
            "try a lower learning rate, --activation leaky_relu, a scaled initialization "
            "(--init kaiming_normal), or --norm batch",
            epoch, step, dead,
        )  # fmt: skip
