"""``torch.optim``'s optimizers, the same classes and arithmetic, without importing
``torch._dynamo`` on first use.

``torch.optim.Optimizer`` wraps its constructor's ``add_param_group``, ``zero_grad``,
``state_dict`` and ``load_state_dict`` in ``torch._disable_dynamo`` and every ``step`` in
``_use_grad_for_differentiable``; each imports the compiler ``torch._dynamo`` on its first call,
to tell it not to trace the optimizer. That import is ~1.5 s of CPU, a third of a one-epoch
``looplab train`` (benchmarks/startup.py), for a compiler looplab's loop never runs the optimizer
under. These subclasses call the undecorated methods torch keeps as ``__wrapped__`` (set by
``functools.wraps``) and set the grad mode as ``_use_grad_for_differentiable`` does; the kernels
(fused, foreach), the state layout and the hooks are torch's own.
``tests/run/test_dynamo_free.py`` checks them bitwise against ``torch.optim``, state dicts
loaded across, and that a training run no longer imports ``torch._dynamo``.

Where a torch version does not keep the ``__wrapped__`` methods, :data:`AVAILABLE` is False and
the builder uses ``torch.optim``'s classes as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.optim import SGD, Adam, AdamW, Optimizer, RMSprop

from looplab.loop.protocols import StateDict


def _undecorated(owner: type, name: str) -> Callable[..., Any] | None:
    """``owner.name`` (from the first class of its MRO that defines it) as written, under its
    dynamo decorator; ``None`` if torch does not keep it."""
    method = next((vars(c)[name] for c in owner.__mro__ if name in vars(c)), None)
    inner = getattr(method, "__wrapped__", None)
    return inner if callable(inner) else None


_ADD_PARAM_GROUP = _undecorated(Optimizer, "add_param_group")
_ZERO_GRAD = _undecorated(Optimizer, "zero_grad")
_STATE_DICT = _undecorated(Optimizer, "state_dict")
_LOAD_STATE_DICT = _undecorated(Optimizer, "load_state_dict")
_STEPS: dict[type[Optimizer], Callable[..., Any] | None] = {
    rule: _undecorated(rule, "step") for rule in (SGD, RMSprop, Adam, AdamW)
}

AVAILABLE = None not in (_ADD_PARAM_GROUP, _ZERO_GRAD, _STATE_DICT, _LOAD_STATE_DICT) and all(
    step is not None for step in _STEPS.values()
)


class _WithoutDynamo(Optimizer):
    """The four ``Optimizer`` methods and ``step`` without their ``torch._dynamo`` import."""

    _rule: type[Optimizer]  # the torch.optim class whose step this is

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        assert _ADD_PARAM_GROUP is not None
        _ADD_PARAM_GROUP(self, param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        assert _ZERO_GRAD is not None
        _ZERO_GRAD(self, set_to_none)

    def state_dict(self) -> StateDict:
        assert _STATE_DICT is not None
        state: StateDict = _STATE_DICT(self)
        return state

    def load_state_dict(self, state_dict: StateDict) -> None:
        assert _LOAD_STATE_DICT is not None
        _LOAD_STATE_DICT(self, state_dict)

    def step(self, closure: Callable[[], float] | None = None) -> Any:
        step = _STEPS[self._rule]
        assert step is not None
        # what torch's _use_grad_for_differentiable does, less its graph breaks for the compiler
        with torch.set_grad_enabled(bool(self.defaults["differentiable"])):
            return step(self, closure)


class DynamoFreeSGD(_WithoutDynamo, SGD):
    """``torch.optim.SGD`` (plain, momentum, Nesterov), without importing ``torch._dynamo``."""

    _rule = SGD


class DynamoFreeRMSprop(_WithoutDynamo, RMSprop):
    """``torch.optim.RMSprop``, without importing ``torch._dynamo``."""

    _rule = RMSprop


class DynamoFreeAdam(_WithoutDynamo, Adam):
    """``torch.optim.Adam``, without importing ``torch._dynamo``."""

    _rule = Adam


class DynamoFreeAdamW(_WithoutDynamo, AdamW):
    """``torch.optim.AdamW``, without importing ``torch._dynamo``."""

    _rule = AdamW
