r"""The optimizers of :mod:`looplab.manual.optim` again, fused for the manual engine.

The manual engine keeps every weight in one flat numpy array and every gradient in another
(:mod:`looplab.manual.flat`), so one rule here updates all the parameters with a dozen
whole-array operations, where ``torch.optim`` or the readable rules of ``optim.py`` take a few
tensor operations per parameter: for the small models of the course that per-operation cost
is most of an update. Intermediate results go into one preallocated array (``out=``).

Same rules, same hyper-parameters, same ``state_dict`` layout as ``torch.optim`` (buffers named
as torch names them, keyed by the parameter's position, a ``step`` count), so a checkpoint
moves between the two; equal to ``torch.optim`` step by step (``tests/manual/test_fused.py``).
$\lambda$ is the weight decay, $\eta$ the learning rate.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from looplab.errors import ConfigError
from looplab.manual.flat import Array, FlatParameters

Group = dict[str, Any]


class FusedOptimizer:
    """What the fused rules share: the flat arrays, one parameter group (``torch.optim``'s call
    shape: ``param_groups``, ``zero_grad``, ``step``, ``state_dict``), the state buffers."""

    buffer_names: ClassVar[tuple[str, ...]] = ()  # per-parameter state, in torch's names
    counts_steps: ClassVar[bool] = False  # torch keeps a ``step`` count in each state
    # torch.optim settings of the same optimizer that these rules have only at these values
    # (written into state_dict, so torch.optim reads back the same rule)
    fixed: ClassVar[dict[str, Any]] = {"maximize": False, "differentiable": False}

    def __init__(self, flat: FlatParameters, **defaults: Any) -> None:
        self.flat = flat
        self.defaults = defaults
        self.param_groups: list[Group] = [{"params": flat.params, **defaults}]
        self.buffers: dict[str, Array] = {}  # name -> (total,) state, made at the first step
        self.steps = 0
        self.scratch = np.empty_like(flat.values)  # (total,) room for intermediate results

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the last gradients (backward adds into ``p.grad``)."""
        for p in self.flat.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def step(self) -> None:
        """Update every weight from its gradient ``p.grad``, all in one go."""
        g = self.gradient()
        if g is None:  # no gradients: nothing to do, as with torch.optim
            return
        if self.flat.moved():
            self.flat.adopt()
        self.steps += 1
        self.update(self.flat.values, g, self.param_groups[0])

    def update(self, p: Array, g: Array, group: Group) -> None:
        """The rule: change the flat weights ``p`` in place from the flat gradient ``g``."""
        raise NotImplementedError

    def buffer(self, name: str) -> Array:
        """The state array ``name``, zeros at first."""
        if name not in self.buffers:
            self.buffers[name] = np.zeros_like(self.flat.values)
        return self.buffers[name]

    def gradient(self) -> Array | None:
        """Every ``p.grad`` as one flat array: the engine's own when each ``p.grad`` is its
        view (the usual case), else copied into it; None when no parameter has a gradient."""
        flat = self.flat
        grads = [p.grad for p in flat.params]
        if all(g is mine for g, mine in zip(grads, flat.grad_tensors, strict=True)):
            return flat.grads
        if all(g is None for g in grads):
            return None
        if any(g is None for g in grads):
            raise ValueError("a fused optimizer updates every parameter at once: all need a grad")
        for g, mine, view in zip(grads, flat.grad_tensors, flat.grad_views, strict=True):
            if g is not mine:
                assert g is not None
                np.copyto(view, g.detach().numpy())
        return flat.grads

    def _weight_decayed(self, p: Array, g: Array, group: Group) -> Array:
        """L2 weight decay folded into the gradient: $g + \\lambda p$ (a new array)."""
        return g + group["weight_decay"] * p if group["weight_decay"] != 0 else g

    # ---- checkpoints: torch.optim's layout --------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {i: {name: tensor}}, "param_groups": [...]}`` as ``torch.optim`` has it."""
        flat = self.flat
        state: dict[int, dict[str, Tensor]] = {}
        if self.steps > 0:
            for i, (where, p) in enumerate(zip(flat.slices, flat.params, strict=True)):
                entry = {
                    name: torch.from_numpy(self.buffers[name][where].reshape(p.shape).copy())
                    for name in self.buffer_names
                    if name in self.buffers
                }
                if self.counts_steps:
                    entry["step"] = torch.tensor(float(self.steps))
                state[i] = entry
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group |= {**self.fixed, "params": list(range(len(flat.params)))}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`, or the same optimizer's from ``torch.optim``; refuse
        (one line) a state this rule cannot continue."""
        name = type(self).__name__
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.flat.params):
            raise ConfigError(
                f"the saved optimizer state is not for this model's {len(self.flat.params)} "
                "parameters; resume with the model the run was trained with"
            )
        saved = groups[0]
        other = [f"{k}={saved[k]}" for k, v in self.fixed.items() if k in saved and saved[k] != v]
        if other:
            raise ConfigError(
                f"the saved optimizer has {', '.join(other)}, which looplab's {name} does not "
                "do; resume with the run's optimizer or start a new run"
            )
        entries = [state_dict["state"].get(i, state_dict["state"].get(str(i), {}))
                   for i in range(len(self.flat.params))]  # fmt: skip
        kept = [{k for k, v in e.items() if k != "step" and v is not None} for e in entries]
        expected = set(self.buffer_names)
        if any(k and k != expected for k in kept):
            found = ", ".join(sorted(set().union(*kept)))
            raise ConfigError(
                f"the saved optimizer state holds {found}, not what {name} keeps "
                f"({', '.join(self.buffer_names) or 'nothing'}); resume with the run's optimizer"
            )
        if any(k != kept[0] for k in kept):
            raise ConfigError(f"the saved {name} state covers only some parameters; start anew")
        for key in self.defaults:
            if key in saved:
                self.param_groups[0][key] = _plain(saved[key])
        self.buffers = {}
        for buffer in sorted(kept[0]):
            array = self.buffer(buffer)
            for entry, where in zip(entries, self.flat.slices, strict=True):
                array[where] = _as_numpy(entry[buffer]).reshape(-1)
        steps = {int(float(e["step"])) for e in entries if "step" in e}
        if len(steps) > 1:
            raise ConfigError(f"the saved {name} state has parameters at different step counts")
        self.steps = steps.pop() if steps else (1 if kept[0] else 0)

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({settings})"


def _as_numpy(value: Any) -> Array:
    return value.detach().cpu().numpy() if isinstance(value, Tensor) else np.asarray(value)


def _plain(value: Any) -> Any:
    """Hyper-parameters as plain numbers (torch saves ``betas`` as a tuple or a list)."""
    return tuple(value) if isinstance(value, list) else value


class FusedSGD(FusedOptimizer):
    """$p \\leftarrow p - \\eta g$."""

    fixed: ClassVar[dict[str, Any]] = {
        **FusedOptimizer.fixed,
        "momentum": 0,
        "dampening": 0,
        "nesterov": False,
    }

    def __init__(self, flat: FlatParameters, lr: float, weight_decay: float = 0.0) -> None:
        super().__init__(flat, lr=lr, weight_decay=weight_decay)

    def update(self, p: Array, g: Array, group: Group) -> None:
        g = self._weight_decayed(p, g, group)
        step = np.multiply(g, group["lr"], out=self.scratch)
        p -= step


class FusedMomentum(FusedOptimizer):
    """Heavy ball: $v \\leftarrow \\mu v + g$ ($v = g$ at the first step),
    $p \\leftarrow p - \\eta v$; with ``nesterov``, $p \\leftarrow p - \\eta (g + \\mu v)$."""

    buffer_names = ("momentum_buffer",)
    fixed: ClassVar[dict[str, Any]] = {**FusedOptimizer.fixed, "dampening": 0}

    def __init__(
        self,
        flat: FlatParameters,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(flat, lr=lr, momentum=momentum, weight_decay=weight_decay,
                         nesterov=nesterov)  # fmt: skip

    def update(self, p: Array, g: Array, group: Group) -> None:
        g, mu = self._weight_decayed(p, g, group), group["momentum"]
        first = "momentum_buffer" not in self.buffers
        v = self.buffer("momentum_buffer")
        if first:
            v[:] = g
        else:
            v *= mu
            v += g
        step = self.scratch
        if group["nesterov"]:
            np.multiply(v, mu, out=step)
            step += g
        else:
            step[:] = v
        step *= group["lr"]
        p -= step


class FusedRMSProp(FusedOptimizer):
    """$s \\leftarrow \\alpha s + (1-\\alpha) g^2$, $p \\leftarrow p - \\eta g / (\\sqrt{s} +
    \\epsilon)$."""

    buffer_names = ("square_avg",)
    counts_steps = True
    fixed: ClassVar[dict[str, Any]] = {**FusedOptimizer.fixed, "momentum": 0, "centered": False}

    def __init__(
        self,
        flat: FlatParameters,
        lr: float,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(flat, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay)

    def update(self, p: Array, g: Array, group: Group) -> None:
        g, alpha, tmp = self._weight_decayed(p, g, group), group["alpha"], self.scratch
        s = self.buffer("square_avg")
        s *= alpha
        np.multiply(g, g, out=tmp)
        tmp *= 1 - alpha
        s += tmp  # s <- alpha s + (1 - alpha) g^2
        np.sqrt(s, out=tmp)
        tmp += group["eps"]
        np.divide(g, tmp, out=tmp)
        tmp *= group["lr"]
        p -= tmp


class FusedAdam(FusedOptimizer):
    """$m \\leftarrow \\beta_1 m + (1-\\beta_1) g$, $v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2$,
    $p \\leftarrow p - \\eta \\hat m / (\\sqrt{\\hat v} + \\epsilon)$ with
    $\\hat m = m / (1-\\beta_1^t)$, $\\hat v = v / (1-\\beta_2^t)$; ``decoupled`` is AdamW:
    $p \\leftarrow (1-\\eta\\lambda) p$ first, the decay kept out of the adaptive scaling."""

    buffer_names = ("exp_avg", "exp_avg_sq")
    counts_steps = True
    decoupled = False
    fixed: ClassVar[dict[str, Any]] = {
        **FusedOptimizer.fixed,
        "amsgrad": False,
        "decoupled_weight_decay": False,
    }

    def __init__(
        self,
        flat: FlatParameters,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(flat, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def update(self, p: Array, g: Array, group: Group) -> None:
        (b1, b2), lr, wd, t = group["betas"], group["lr"], group["weight_decay"], self.steps
        if self.decoupled:
            if wd != 0:
                p *= 1 - lr * wd
        else:
            g = self._weight_decayed(p, g, group)
        m, v, tmp = self.buffer("exp_avg"), self.buffer("exp_avg_sq"), self.scratch
        np.subtract(g, m, out=tmp)
        tmp *= 1 - b1
        m += tmp  # m <- m + (1 - b1)(g - m) = b1 m + (1 - b1) g
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp  # v <- b2 v + (1 - b2) g^2
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - b2**t)
        tmp += group["eps"]  # sqrt(v_hat) + eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / (1 - b1**t)  # lr m_hat / (sqrt(v_hat) + eps)
        p -= tmp


class FusedAdamW(FusedAdam):
    """Adam with decoupled weight decay."""

    decoupled = True
    fixed: ClassVar[dict[str, Any]] = {**FusedAdam.fixed, "decoupled_weight_decay": True}


def build_fused_optimizer(
    name: str, flat: FlatParameters, lr: float, weight_decay: float, momentum: float
) -> FusedOptimizer:
    """The fused optimizer ``name`` with ``torch.optim``'s defaults for the rest."""
    match name:
        case "sgd":
            return FusedSGD(flat, lr, weight_decay=weight_decay)
        case "momentum":
            return FusedMomentum(flat, lr, momentum=momentum, weight_decay=weight_decay)
        case "nesterov":
            return FusedMomentum(flat, lr, momentum, weight_decay=weight_decay, nesterov=True)
        case "rmsprop":
            return FusedRMSProp(flat, lr, weight_decay=weight_decay)
        case "adam":
            return FusedAdam(flat, lr, weight_decay=weight_decay)
        case "adamw":
            return FusedAdamW(flat, lr, weight_decay=weight_decay)
    raise ValueError(f"no fused optimizer {name!r}")
