"""The checks a run's config passes before any data is read or any file written.

Kept apart from :mod:`looplab.run.build` so that a mistyped flag is refused without importing
torch (``looplab train --optimizer adamx`` answers at once)."""

from __future__ import annotations

from looplab.config import Config
from looplab.data.registry import check_dataset


def checked(config: Config) -> Config:
    """``config`` validated field by field, and its dataset checked by the data registry:
    every mistake that needs no data is found here, before anything is written."""
    config.validate()
    check_dataset(config.dataset, config.target, config.n, config.noise)
    return config
