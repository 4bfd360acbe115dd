"""The optimizers of the course by name, built from ``torch.optim``."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from looplab.config import Config


def build_optimizer(params: Iterable[Tensor], config: Config) -> torch.optim.Optimizer:
    """``sgd``, ``momentum``, ``nesterov``, ``rmsprop``, ``adam`` or ``adamw`` with the config's
    ``lr``, ``weight_decay`` and (for the momentum methods) ``momentum``."""
    lr, wd, mu = config.lr, config.weight_decay, config.momentum
    params = list(params)
    match config.optimizer:
        case "sgd":
            return torch.optim.SGD(params, lr=lr, weight_decay=wd)
        case "momentum":
            return torch.optim.SGD(params, lr=lr, momentum=mu, weight_decay=wd)
        case "nesterov":
            return torch.optim.SGD(params, lr=lr, momentum=mu, nesterov=True, weight_decay=wd)
        case "rmsprop":
            return torch.optim.RMSprop(params, lr=lr, weight_decay=wd)
        case "adam":
            return torch.optim.Adam(params, lr=lr, weight_decay=wd)
        case "adamw":
            return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    raise AssertionError(f"config.validate() lets no optimizer {config.optimizer!r} through")
