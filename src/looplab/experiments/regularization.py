"""Regularization, measured: the same overfitting MLP trained with each remedy, side by side.

A large MLP on a small noisy dataset memorizes it: training loss near zero, validation loss
high. Each remedy (weight decay, dropout, early stopping, batch norm...) is the same run with
one config field changed; the train/validation gap of the final model (after early stopping
restored its best weights) says how much each one narrows the gap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.loop.events import Callback
from looplab.models.mlp import build_model
from looplab.run.evaluation import evaluate_splits
from looplab.run.fit import fit

# Each remedy is a set of config changes on top of the base run.
REMEDIES: dict[str, dict[str, Any]] = {
    "none": {},
    "weight decay 1e-2": {"weight_decay": 1e-2},
    "dropout 0.3": {"dropout": 0.3},
    "early stopping (patience 20)": {"patience": 20},
    "batch norm": {"norm": "batch"},
    "layer norm": {"norm": "layer"},
    "residual": {"residual": True},
}


def overfit_config(**changes: Any) -> Config:
    """120 noisy moons, half of them for validation, and a 2-128-128-128-1 MLP for 300 epochs:
    enough capacity to memorize 60 training points."""
    base: dict[str, Any] = dict(
        dataset="moons",
        n=120,
        noise=0.35,
        val_fraction=0.5,
        hidden=[128, 128, 128],
        optimizer="adam",
        lr=0.01,
        batch_size=32,
        epochs=300,
        device="cpu",
    )
    return Config(**{**base, **changes}).validate()


@dataclass(frozen=True)
class RemedyResult:
    """Losses and accuracies of the final model on the training and validation splits."""

    name: str
    train_loss: float
    val_loss: float
    train_accuracy: float
    val_accuracy: float
    epochs: int

    @property
    def gap(self) -> float:
        """Validation loss minus training loss: how much the model memorized."""
        return self.val_loss - self.train_loss


def remedy_configs(
    base: Config, remedies: dict[str, dict[str, Any]] | None = None
) -> dict[str, Config]:
    """Each remedy's config, every one checked with the data before any is trained (a remedy
    that cannot run, say batch norm on a one-row last batch, is refused up front)."""
    from looplab.run.build import check_fits_data
    from looplab.run.checks import checked

    configs = {name: checked(base.replace(**changes)) for name, changes in
               (remedies or REMEDIES).items()}  # fmt: skip
    data = load_prepared(base)
    for config in configs.values():
        check_fits_data(config, data)
    return configs


def run_remedy(name: str, config: Config, callbacks: Sequence[Callback] = ()) -> RemedyResult:
    """Train one configuration and measure its final model on both splits."""
    from looplab.run.build import model_spec  # the data-sized model of the CLI run

    data = load_prepared(config)
    model = build_model(model_spec(config, data), seed=config.seed)
    history = fit(model, data, config, callbacks)
    assert data.val is not None, "the overfitting demo needs a validation split"
    final = evaluate_splits(model, data)  # the kept model: early stopping's best epoch
    train, val = final["train"], final["validation"]
    return RemedyResult(
        name,
        train["loss"],
        val["loss"],
        train.get("accuracy", float("nan")),
        val.get("accuracy", float("nan")),
        len(history),
    )


COLUMNS = ["remedy", "epochs", "train loss", "val loss", "gap (val - train)", "train acc",
           "val acc"]  # fmt: skip


def table_rows(results: list[RemedyResult]) -> list[list[str | int | float]]:
    """One row per remedy under :data:`COLUMNS`, numbers unrounded."""
    return [
        [r.name, r.epochs, r.train_loss, r.val_loss, r.gap, r.train_accuracy, r.val_accuracy]
        for r in results
    ]


def compare_remedies(
    base: Config,
    remedies: dict[str, dict[str, Any]] | None = None,
    on_result: Callable[[RemedyResult], None] = lambda result: None,
    callbacks: Sequence[Callback] = (),
) -> list[RemedyResult]:
    """Run ``base`` once per remedy (its config changes applied) and return the results in
    order; ``on_result`` hears each as it finishes (for a progress bar, or to save it);
    ``callbacks`` go to every run."""
    results = []
    for name, config in remedy_configs(base, remedies).items():
        result = run_remedy(name, config, callbacks)
        on_result(result)
        results.append(result)
    return results
