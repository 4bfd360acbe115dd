r"""Mixed precision and compilation: what ``--precision`` and ``--compile`` do to the model.

``bf16`` runs the forward pass under ``torch.autocast`` (matrix products in bfloat16, on the CPU
and on CUDA) and hands float32 logits to the loss, so the loss, the metrics and the weights stay
in float32: bfloat16 has float32's range, so nothing underflows and no scaler is needed.
``fp16`` (CUDA only) has a narrow range: small gradients would flush to zero in the backward
pass, so the loss's gradient is multiplied by a scale $S$ before backward and the parameter
gradients divided by $S$ before the step, with $S$ halved on any inf/NaN (that step is skipped)
and grown while steps stay finite: ``torch.amp.GradScaler``, split here between the loss
(:class:`ScaledLoss`) and the optimizer (:class:`ScaledOptimizer`) so the loop reads the same.

The model is changed in place (its ``forward``), never wrapped, so its parameter names, state
dict, checkpoints and saved files are the same whatever the precision.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from looplab.loop.protocols import LossFn, Optimizer, StateDict

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_forward(model: nn.Module, device: torch.device, precision: str) -> nn.Module:
    """``model`` whose forward runs under autocast in ``precision`` and returns float32."""
    if precision == "fp32":
        return model
    dtype = DTYPES[precision]
    forward: Callable[..., Tensor] = model.forward

    @functools.wraps(forward)
    def mixed(*args: Any, **kwargs: Any) -> Tensor:
        with torch.autocast(device.type, dtype=dtype):
            out = forward(*args, **kwargs)  # (batch, outputs) in dtype
        return out.float()  # the loss and the metrics in float32

    model.forward = mixed
    return model


def compile_model(model: nn.Module) -> nn.Module:
    """``model`` compiled in place by ``torch.compile`` (same module, same state dict); the
    first steps pay for the compilation (docs/scaling-out.md has the measured times)."""
    model.compile()
    return model


class _ScaleGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the incoming gradient by ``scale``."""

    @staticmethod
    def forward(ctx: Any, loss: Tensor, scale: Tensor) -> Tensor:
        ctx.save_for_backward(scale)
        return loss.view_as(loss)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (scale,) = ctx.saved_tensors
        return grad * scale, None


class ScaledLoss:
    """A loss whose value is ``loss_fn``'s (so metrics are true) but whose gradient is scaled by
    the scaler's current $S$: the first half of loss scaling."""

    def __init__(self, loss_fn: LossFn, scaler: torch.amp.GradScaler) -> None:
        self.loss_fn = loss_fn
        self.scaler = scaler

    def __call__(self, logits: Tensor, targets: Tensor, /) -> Tensor:
        loss = self.loss_fn(logits, targets)
        scale = self.scaler.scale(torch.ones((), device=loss.device))  # S, as a tensor: no sync
        out: Tensor = _ScaleGradient.apply(loss, scale)
        return out


class ScaledOptimizer:
    """An optimizer whose ``step`` divides the gradients by $S$, skips a step with inf/NaN
    gradients and updates $S$: the second half of loss scaling. Its state dict is the wrapped
    optimizer's, plus the scaler's under ``grad_scaler``."""

    def __init__(self, optimizer: Optimizer, scaler: torch.amp.GradScaler) -> None:
        self.optimizer = optimizer
        self.scaler = scaler

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, groups: list[dict[str, Any]]) -> None:
        self.optimizer.param_groups = groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def step(self) -> object:
        result = self.scaler.step(self.optimizer)  # type: ignore[arg-type]
        self.scaler.update()
        return result

    def state_dict(self) -> StateDict:
        return {**self.optimizer.state_dict(), "grad_scaler": self.scaler.state_dict()}

    def load_state_dict(self, state_dict: StateDict) -> None:
        state = dict(state_dict)
        scaler = state.pop("grad_scaler", None)
        self.optimizer.load_state_dict(state)
        if scaler is not None:
            self.scaler.load_state_dict(scaler)


def loss_scaling(
    loss_fn: LossFn, optimizer: Optimizer, device: torch.device
) -> tuple[ScaledLoss, ScaledOptimizer]:
    """The loss and optimizer of an fp16 run, sharing one ``GradScaler``."""
    scaler = torch.amp.GradScaler(device.type)
    return ScaledLoss(loss_fn, scaler), ScaledOptimizer(optimizer, scaler)
