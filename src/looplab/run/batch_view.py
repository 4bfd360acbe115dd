"""One mini-batch as training draws it: the same seed, split, shuffling and batch size as a
``looplab train`` of the same config, so the batch shown is the batch the model is given."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from looplab.config import Config
from looplab.data.batches import Batches
from looplab.data.prepared import PreparedData
from looplab.data.split import Split
from looplab.errors import ConfigError
from looplab.run.build import augmentation, check_fits_data, seed_everything


@dataclass
class BatchView:
    """Batch ``index`` of the first epoch: which training rows it holds and what they are."""

    data: PreparedData
    index: int  # 0-based position of the batch in its epoch
    batches: int  # batches per epoch
    rows: Tensor  # (batch,) positions in the training split
    X: Tensor  # (batch, ...) as the model sees it (standardized)
    raw: Tensor  # (batch, ...) in the data's own units (pixels in [0, 1] for images)
    y: Tensor  # (batch,)
    all_raw: Tensor  # (rows, ...) the whole training split in the data's own units
    all_y: Tensor  # (rows,)


def draw_batch(config: Config, data: PreparedData, index: int = 0) -> BatchView:
    """Batch ``index`` of epoch 1 of a run of ``config`` on ``data``: the generator is seeded
    as :func:`looplab.run.build.build` seeds it, and the same permutation (and augmentation)
    is drawn."""
    check_fits_data(config, data)
    if not isinstance(data.train, Split):
        raise ConfigError("looplab batch draws batches of in-memory data, not of a DataLoader")
    train = data.train
    rows = torch.arange(len(train))
    size = len(train) if config.batch_size == "full" else int(config.batch_size)
    generator = seed_everything(config.seed)
    batches = Batches(train.X, rows, size, drop_last=config.drop_last, generator=generator,
                      augment=augmentation(config))  # fmt: skip
    if not 0 <= index < len(batches):
        raise ConfigError(
            f"--index {index} is not a batch of this epoch: it has {len(batches)} batches "
            f"(0 to {len(batches) - 1})"
        )
    X, picked = next(b for i, b in enumerate(batches.epoch()) if i == index)
    pre = data.preprocessor

    def unscale(t: Tensor) -> Tensor:  # back in the data's units
        return t * pre.std + pre.mean if pre is not None and pre.standardize else t

    return BatchView(data, index, len(batches), picked, X, unscale(X), train.y[picked],
                     unscale(train.X), train.y)  # fmt: skip
