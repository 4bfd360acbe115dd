"""The checks a run's config passes before any data is read or any file written.

Kept apart from :mod:`looplab.run.build` so that a mistyped flag is refused without importing
torch (``looplab train --optimizer adamx`` answers at once): the field-by-field checks and the
dataset's come first; only a config that passes them imports torch for the device, engine and
schedule checks."""

from __future__ import annotations

from looplab.config import Config
from looplab.data.registry import check_dataset
from looplab.errors import ConfigError


def checked(config: Config) -> Config:
    """``config`` validated field by field, its dataset checked by the data registry, and the
    device, engine and schedule it asks for: every mistake that needs no data is found here,
    before anything is written."""
    config.validate()
    check_dataset(config.dataset, config.target, config.n, config.noise, config.data_dir)
    if config.engine == "manual" and config.device == "cuda":
        raise ConfigError("the manual engine runs on the CPU (numpy); use --device cpu")
    from looplab.manual.mlp import check_supported
    from looplab.models.mlp import ModelSpec
    from looplab.run.build import pick_device
    from looplab.run.schedules import warmup_epochs

    if config.engine == "manual":
        hidden = tuple(config.hidden) if config.model == "mlp" else ()
        spec = ModelSpec(1, 1, hidden, config.activation, config.dropout, config.norm,
                         config.residual)  # fmt: skip
        check_supported(spec)
    pick_device(config.device)  # --device cuda on a machine without one
    warmup_epochs(config)  # a warm-up the schedule cannot use
    return config
