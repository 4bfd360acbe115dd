"""What the loop needs from the things it is given, as Protocols: any object with these methods
will do, so ``torch.optim`` and looplab's from-scratch optimizers, torch's and looplab's
schedules, in-memory batches and ``DataLoader``s all plug into the same ``fit``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from torch import Tensor

StateDict = dict[str, Any]


class Optimizer(Protocol):
    """An optimizer: ``torch.optim.Optimizer`` or :class:`looplab.manual.optim.Optimizer`."""

    param_groups: list[dict[str, Any]]

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def step(self) -> object: ...

    def state_dict(self) -> StateDict: ...

    def load_state_dict(self, state_dict: StateDict) -> None: ...


class Scheduler(Protocol):
    """A learning-rate schedule as the loop steps it: after every update, and after every
    epoch with the loss it watches (only ``plateau`` uses it)."""

    def after_update(self) -> None: ...

    def after_epoch(self, loss: float) -> None: ...

    def state_dict(self) -> StateDict: ...

    def load_state_dict(self, state: StateDict) -> None: ...


class BatchSource(Protocol):
    """One epoch of ``(inputs, targets)`` batches at a time, resumable mid-epoch.

    ``epoch(skip=k)`` leaves out the first ``k`` batches; ``state_dict`` / ``load_state_dict``
    carry the shuffling so a resumed epoch draws the same order as the interrupted one.
    """

    def __len__(self) -> int: ...

    def epoch(self, skip: int = 0) -> Iterator[tuple[Tensor, Tensor]]: ...

    def state_dict(self) -> StateDict: ...

    def load_state_dict(self, state: StateDict, mid_epoch: bool) -> None: ...


class LossFn(Protocol):
    """``loss_fn(logits, targets)`` -> the batch's mean loss, a scalar tensor."""

    def __call__(self, logits: Tensor, targets: Tensor, /) -> Tensor: ...
