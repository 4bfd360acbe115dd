"""The course's optimizers as plain update rules, sorted from simplest to most complex.

Each optimizer is one method, ``update(p, g, state, group)``: parameter ``p``, its gradient
``g`` (read from ``p.grad``, so autograd and the manual engine both feed it), the parameter's
running ``state`` (momentum buffers...) and its ``group`` of hyper-parameters (``lr``...).
The :class:`Optimizer` base class gives them ``torch.optim``'s call shape (``param_groups``,
``zero_grad``, ``step``, ``state_dict``) so ``fit``, schedules and checkpoints take either.
Every rule equals its ``torch.optim`` counterpart to 1e-12 in float64
(``tests/manual/test_optim.py``). $\\lambda$ is the weight decay, $\\eta$ the learning rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

Group = dict[str, Any]
State = dict[str, Tensor]


class Optimizer:
    """What every update rule shares: parameter groups, per-parameter state and the step."""

    def __init__(self, params: Iterable[Tensor], **defaults: float | tuple[float, float]) -> None:
        self.defaults = defaults
        self.param_groups: list[Group] = [{"params": list(params), **defaults}]
        self.state: dict[Tensor, State] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the last gradients (backward adds into ``p.grad``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, p.grad, self.state.setdefault(p, {}), group)

    def update(self, p: Tensor, g: Tensor, state: State, group: Group) -> None:
        """The update rule: change ``p`` in place from its gradient ``g``."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim``'s layout: state and groups keyed by the parameter's position."""
        index = {p: i for i, p in enumerate(self._params())}
        groups = [
            {**_settings(g), "params": [index[p] for p in g["params"]]} for g in self.param_groups
        ]
        state = {index[p]: {k: v.clone() for k, v in s.items()} for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (same parameters, same order)."""
        params = self._params()
        saved_groups = state_dict["param_groups"]
        sizes = [len(g["params"]) for g in self.param_groups]
        if [len(s["params"]) for s in saved_groups] != sizes:
            raise ValueError("the saved optimizer state is for a different set of parameters")
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            group.update(_settings(saved))
        self.state = {
            params[int(i)]: {k: v.clone().to(params[int(i)].device) for k, v in s.items()}
            for i, s in state_dict["state"].items()
        }

    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({settings})"


def _settings(group: Group) -> Group:
    """A group's hyper-parameters, without its parameters."""
    return {k: v for k, v in group.items() if k != "params"}


def _decay(p: Tensor, g: Tensor, group: Group) -> Tensor:
    """L2 weight decay folded into the gradient: $g + \\lambda p$ (a new tensor, not p.grad)."""
    return g + group["weight_decay"] * p if group["weight_decay"] != 0 else g


class SGD(Optimizer):
    """$p \\leftarrow p - \\eta g$."""

    def __init__(self, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, weight_decay=weight_decay)

    def update(self, p: Tensor, g: Tensor, state: State, group: Group) -> None:
        p.add_(_decay(p, g, group), alpha=-group["lr"])  # one fused operation, as torch.optim


class Momentum(Optimizer):
    """Heavy ball: a velocity $v \\leftarrow \\mu v + g$ (v = g at the first step),
    then $p \\leftarrow p - \\eta v$."""

    nesterov = False

    def __init__(
        self, params: Iterable[Tensor], lr: float, momentum: float = 0.9, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def update(self, p: Tensor, g: Tensor, state: State, group: Group) -> None:
        g = _decay(p, g, group)
        if "velocity" not in state:
            state["velocity"] = g.clone()
        else:
            state["velocity"].mul_(group["momentum"]).add_(g)
        v = state["velocity"]
        step = g + group["momentum"] * v if self.nesterov else v
        p.sub_(group["lr"] * step)


class Nesterov(Momentum):
    """Momentum that looks ahead: $p \\leftarrow p - \\eta (g + \\mu v)$."""

    nesterov = True


class RMSProp(Optimizer):
    """Divide by a running root mean square of the gradient:
    $s \\leftarrow \\alpha s + (1-\\alpha) g^2$,
    $p \\leftarrow p - \\eta g / (\\sqrt{s} + \\epsilon)$."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay)

    def update(self, p: Tensor, g: Tensor, state: State, group: Group) -> None:
        g = _decay(p, g, group)
        s = state.setdefault("square_avg", torch.zeros_like(p))
        s.mul_(group["alpha"]).add_((1 - group["alpha"]) * g * g)
        p.sub_(group["lr"] * g / (s.sqrt() + group["eps"]))


class Adam(Optimizer):
    """Momentum and RMSProp together, with bias correction for the zero-initialized averages:
    $m \\leftarrow \\beta_1 m + (1-\\beta_1) g$, $v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2$,
    $p \\leftarrow p - \\eta \\hat m / (\\sqrt{\\hat v} + \\epsilon)$ with
    $\\hat m = m / (1-\\beta_1^t)$, $\\hat v = v / (1-\\beta_2^t)$."""

    decoupled = False

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def update(self, p: Tensor, g: Tensor, state: State, group: Group) -> None:
        (b1, b2), lr, wd = group["betas"], group["lr"], group["weight_decay"]
        if self.decoupled:
            p.mul_(1 - lr * wd)  # AdamW: shrink the weights, outside the adaptive scaling
        else:
            g = _decay(p, g, group)
        if "step" not in state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t = float(state["step"])
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(b1).add_((1 - b1) * g)
        v.mul_(b2).add_((1 - b2) * g * g)
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        p.sub_(lr * m_hat / (v_hat.sqrt() + group["eps"]))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): $p \\leftarrow (1-\\eta\\lambda) p$
    before the Adam step, so the decay is not divided by $\\sqrt{\\hat v}$."""

    decoupled = True


def build_scratch_optimizer(
    name: str, params: Iterable[Tensor], lr: float, weight_decay: float, momentum: float
) -> Optimizer:
    """The from-scratch optimizer ``name`` with the same hyper-parameters ``torch.optim``'s
    defaults use (RMSProp alpha 0.99, eps 1e-8; Adam betas (0.9, 0.999), eps 1e-8)."""
    match name:
        case "sgd":
            return SGD(params, lr, weight_decay=weight_decay)
        case "momentum":
            return Momentum(params, lr, momentum=momentum, weight_decay=weight_decay)
        case "nesterov":
            return Nesterov(params, lr, momentum=momentum, weight_decay=weight_decay)
        case "rmsprop":
            return RMSProp(params, lr, weight_decay=weight_decay)
        case "adam":
            return Adam(params, lr, weight_decay=weight_decay)
        case "adamw":
            return AdamW(params, lr, weight_decay=weight_decay)
    raise ValueError(f"no from-scratch optimizer {name!r}")
