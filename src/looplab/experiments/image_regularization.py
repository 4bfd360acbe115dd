"""Modern regularization on images (lesson 3.7), measured: one MLP on 1,000 MNIST digits,
trained without and with each remedy over several seeds, compared by validation accuracy and by
the generalization gap (training minus validation accuracy of the final model).

Each remedy is the base config with a few fields changed; each seed changes the split, the
initial weights and the shuffling, so the spread says how much of a difference is noise.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from looplab.config import Config
from looplab.experiments.regularization import RemedyResult
from looplab.loop.events import Callback
from looplab.models.cnn import build_network
from looplab.run.averaging import weight_average
from looplab.run.evaluation import evaluate_splits
from looplab.run.fit import fit


def image_remedies(epochs: int) -> dict[str, dict[str, Any]]:
    """Each remedy as config changes; SWA averages the last half of the ``epochs``. The same
    decay coefficient for Adam + L2 and AdamW: the difference is how it is applied."""
    swa = max(1, epochs // 2 + 1)
    return {
        "none": {},
        "dropout 0.3": {"dropout": 0.3},
        "Adam + L2 0.1": {"weight_decay": 0.1},
        "AdamW 0.1": {"optimizer": "adamw", "weight_decay": 0.1},
        "label smoothing 0.1": {"label_smoothing": 0.1},
        "mixup 0.2": {"mixup": 0.2},
        "augmentation 2 px, 10 deg": {"augment_shift": 2, "augment_rotate": 10.0},
        "EMA 0.99": {"ema_decay": 0.99},
        f"SWA from epoch {swa}": {"swa_start": swa},
    }


SEEDS = (0, 1, 2)


def image_config(fast: bool = False, **changes: Any) -> Config:
    """mnist-5k with 1,000 training images (val_fraction 0.8: 4,000 validation images), an MLP
    784-256-10, Adam lr 0.001, batch 64, 15 epochs: it reaches ~100% training accuracy, so
    every remedy has a gap to narrow. ``fast``: 2 epochs on 500 images (tests)."""
    base: dict[str, Any] = dict(
        dataset="mnist-5k", hidden=[256], optimizer="adam", lr=0.001, batch_size=64,
        epochs=2 if fast else 15, val_fraction=0.9 if fast else 0.8, device="cpu",
    )  # fmt: skip
    return Config(**{**base, **changes}).validate()


def image_remedy_configs(
    base: Config, remedies: dict[str, dict[str, Any]] | None = None
) -> dict[str, Config]:
    """Each remedy's config, every one checked with the data before any is trained."""
    from looplab.data.prepared import load_prepared
    from looplab.run.build import check_fits_data
    from looplab.run.checks import checked

    changes = remedies or image_remedies(base.epochs)
    configs = {name: checked(base.replace(**c)) for name, c in changes.items()}
    data = load_prepared(base)
    for config in configs.values():
        check_fits_data(config, data)
    return configs


def run_image_remedy(name: str, config: Config, callbacks: Sequence[Callback] = ()) -> RemedyResult:
    """Train one configuration (with its weight average, if any) and measure the final model;
    ``callbacks`` go to the run (the CLI's signal watcher)."""
    from looplab.data.prepared import load_prepared
    from looplab.run.build import model_spec

    data = load_prepared(config)
    model = build_network(model_spec(config, data), seed=config.seed)
    averager = weight_average(config)
    history = fit(model, data, config, [*callbacks, *([averager] if averager else [])])
    final = evaluate_splits(model, data)  # plain cross-entropy, no smoothing: comparable
    train, val = final["train"], final["validation"]
    return RemedyResult(name, train["loss"], val["loss"], train["accuracy"], val["accuracy"],
                        len(history))  # fmt: skip


@dataclass(frozen=True)
class RemedySeeds:
    """One remedy over several seeds."""

    name: str
    runs: list[RemedyResult]

    def _stats(self, values: list[float]) -> tuple[float, float]:
        mean = statistics.fmean(values)
        return mean, statistics.stdev(values) if len(values) > 1 else math.nan

    @property
    def val_accuracy(self) -> tuple[float, float]:
        """Mean and standard deviation over seeds."""
        return self._stats([r.val_accuracy for r in self.runs])

    @property
    def accuracy_gap(self) -> tuple[float, float]:
        """Training minus validation accuracy: mean and standard deviation over seeds."""
        return self._stats([r.train_accuracy - r.val_accuracy for r in self.runs])

    @property
    def val_loss(self) -> tuple[float, float]:
        return self._stats([r.val_loss for r in self.runs])


def compare_image_remedies(
    base: Config,
    remedies: dict[str, dict[str, Any]] | None = None,
    seeds: tuple[int, ...] = SEEDS,
    on_result: Callable[[RemedyResult], None] = lambda result: None,
) -> list[RemedySeeds]:
    """Every remedy on every seed, in order; ``on_result`` hears each run as it finishes."""
    out = []
    for name, config in image_remedy_configs(base, remedies).items():
        runs = []
        for seed in seeds:
            result = run_image_remedy(name, config.replace(seed=seed).validate())
            on_result(result)
            runs.append(result)
        out.append(RemedySeeds(name, runs))
    return out


IMAGE_COLUMNS = ["remedy", "val acc (mean)", "val acc (std)", "gap: train - val acc (mean)",
                 "gap (std)", "val loss (mean)", "seeds"]  # fmt: skip


def image_table_rows(results: list[RemedySeeds]) -> list[list[str | int | float]]:
    """One row per remedy under :data:`IMAGE_COLUMNS`, numbers unrounded."""
    rows: list[list[str | int | float]] = []
    for r in results:
        (acc, acc_sd), (gap, gap_sd) = r.val_accuracy, r.accuracy_gap
        rows.append([r.name, acc, acc_sd, gap, gap_sd, r.val_loss[0], len(r.runs)])
    return rows


WHY_ADAMW = (
    "Adam + L2 adds lambda * w to the gradient, and Adam divides the whole gradient by its "
    "running size sqrt(v): the decay is normalized away (every weight shrinks by about lr a step "
    "whatever its size, and weights with large gradients least). AdamW shrinks each weight by "
    "lr * lambda * w outside the adaptive step, in proportion to the weight: the same lambda "
    "decays differently."
)
