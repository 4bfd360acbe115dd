"""The optimizers of the course by name: ``torch.optim``'s, or looplab's from-scratch rules.

``config.impl`` picks the implementation (``torch`` | ``scratch``); both get the same
hyper-parameters, so the two give the same run (``tests/manual/test_optim.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from looplab.config import Config
from looplab.loop.protocols import Optimizer


def build_optimizer(params: Iterable[Tensor], config: Config) -> Optimizer:
    """``sgd``, ``momentum``, ``nesterov``, ``rmsprop``, ``adam`` or ``adamw`` with the config's
    ``lr``, ``weight_decay`` and (for the momentum methods) ``momentum``; a ``torch.optim``
    optimizer, or with ``impl="scratch"`` a :class:`looplab.manual.optim.Optimizer`."""
    if config.impl == "scratch":
        from looplab.manual.optim import build_scratch_optimizer

        return build_scratch_optimizer(
            config.optimizer, params, config.lr, config.weight_decay, config.momentum
        )
    return build_torch_optimizer(params, config)


def build_torch_optimizer(params: Iterable[Tensor], config: Config) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimizer a config names."""
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
