"""The optimizers of the course by name: ``torch.optim``'s, or looplab's from-scratch rules.

``config.impl`` picks the implementation (``torch`` | ``scratch``); both get the same
hyper-parameters, so the two give the same run (``tests/manual/test_optim.py``).

``torch`` means the fastest correct implementation there is for the parameters:

- with the autograd engine, ``torch.optim`` with ``fused=True`` where torch has fused kernels
  for the device (SGD and its momentum forms, Adam, AdamW: one kernel for all parameters),
  else ``foreach=True`` (RMSprop: one call per operation for all parameters). On the default
  job fused Adam takes a third of the default Adam's time (benchmarks/fit_speed.py). The classes
  are :mod:`looplab.run.dynamo_free`'s subclasses: torch's arithmetic, without the ~1.5 s
  import of ``torch._dynamo`` torch's own classes make on first use;
- with the manual engine, looplab's fused numpy twins of ``torch.optim``
  (:mod:`looplab.manual.fused`), which update the engine's one flat weight array at once and
  keep ``torch.optim``'s state layout.

A checkpoint keeps the implementation flags it was written with (``torch.optim`` restores them
with the state), so a resumed run continues with the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import SGD, Adam, AdamW, RMSprop

from looplab.config import Config
from looplab.loop.protocols import Optimizer
from looplab.manual.flat import FlatParameters

FUSED = ("sgd", "momentum", "nesterov", "adam", "adamw")  # torch.optim has fused kernels for


def build_optimizer(
    params: Iterable[Tensor], config: Config, flat: FlatParameters | None = None
) -> Optimizer:
    """``sgd``, ``momentum``, ``nesterov``, ``rmsprop``, ``adam`` or ``adamw`` with the config's
    ``lr``, ``weight_decay`` and (for the momentum methods) ``momentum``: from scratch
    (``impl="scratch"``, a :class:`looplab.manual.optim.Optimizer`), fused over the manual
    engine's ``flat`` parameters, or a ``torch.optim`` optimizer."""
    lr, wd, mu = config.lr, config.weight_decay, config.momentum
    if config.impl == "scratch":
        from looplab.manual.optim import build_scratch_optimizer

        return build_scratch_optimizer(config.optimizer, params, lr, wd, mu)
    if flat is not None:
        from looplab.manual.fused import build_fused_optimizer

        return build_fused_optimizer(config.optimizer, flat, lr, wd, mu)
    return build_torch_optimizer(params, config)


def build_torch_optimizer(params: Iterable[Tensor], config: Config) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimizer a config names, in its fastest implementation (and, where
    torch allows, without the seconds of importing ``torch._dynamo``: :mod:`.dynamo_free`)."""
    lr, wd, mu = config.lr, config.weight_decay, config.momentum
    params = list(params)
    fast = fastest_implementation(config.optimizer, params)
    sgd, rmsprop, adam, adamw = torch_classes()
    match config.optimizer:
        case "sgd":
            return sgd(params, lr=lr, weight_decay=wd, **fast)
        case "momentum":
            return sgd(params, lr=lr, momentum=mu, weight_decay=wd, **fast)
        case "nesterov":
            return sgd(params, lr=lr, momentum=mu, nesterov=True, weight_decay=wd, **fast)
        case "rmsprop":
            return rmsprop(params, lr=lr, weight_decay=wd, **fast)
        case "adam":
            return adam(params, lr=lr, weight_decay=wd, **fast)
        case "adamw":
            return adamw(params, lr=lr, weight_decay=wd, **fast)
    raise AssertionError(f"config.validate() lets no optimizer {config.optimizer!r} through")


def torch_classes() -> tuple[type[SGD], type[RMSprop], type[Adam], type[AdamW]]:
    """SGD, RMSprop, Adam and AdamW: the dynamo-free subclasses where this torch allows them."""
    from looplab.run import dynamo_free as free

    if free.AVAILABLE:
        return free.DynamoFreeSGD, free.DynamoFreeRMSprop, free.DynamoFreeAdam, free.DynamoFreeAdamW
    return torch.optim.SGD, torch.optim.RMSprop, torch.optim.Adam, torch.optim.AdamW


def fastest_implementation(optimizer: str, params: list[Tensor]) -> dict[str, Any]:
    """``{"fused": True}`` when torch has a fused kernel for ``optimizer`` on the parameters'
    devices (and they are all floating point), else ``{"foreach": True}``."""
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

        fused_devices = set(_get_fused_kernels_supported_devices())
    except ImportError:  # a torch without the helper: the multi-tensor path is always there
        fused_devices = set()
    fusable = all(p.device.type in fused_devices and p.is_floating_point() for p in params)
    return {"fused": True} if optimizer in FUSED and fusable and params else {"foreach": True}
