r"""Gradient checking: compare a backward's gradients with central finite differences.

For every entry $\theta_i$ of every parameter, in float64,

$$\hat g_i = \frac{L(\theta + \varepsilon e_i) - L(\theta - \varepsilon e_i)}{2\varepsilon},$$

whose error is $O(\varepsilon^2)$ (the one-sided difference's is $O(\varepsilon)$). Each parameter
gets the largest relative error $|g_i - \hat g_i| / \max(|g_i|, |\hat g_i|, \text{floor})$ over
its entries; it passes when that is at most ``tol``. The floor keeps entries whose gradient is
(nearly) zero from dividing rounding noise by nothing: finite differences in float64 resolve
gradients to about $10^{-9}$ absolutely, not relatively.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from looplab.errors import ConfigError, one_of

ArrayLike = np.ndarray[Any, np.dtype[Any]] | Tensor

LOSS_TASKS = {"mse": "regression", "bce": "binary", "ce": "multiclass"}  # CLI name -> task
# Finite differences cost two forward passes per parameter: a check past this many parameters
# (or rows) takes minutes, and says nothing a small one does not.
MAX_PARAMETERS = 20_000
MAX_BATCH = 10_000
# Where a float64 central difference decides: below 1e-7 rounding error (~1e-16 / eps) and
# above 1e-4 truncation error (~eps^2) reach the default tolerance on a correct backward
# (measured on the manual MLPs: worst relative error 9e-9..1.4e-7 at eps 1e-6, up to 7e-6 at
# 1e-8 and 1e-4 at 1e-3); and no tolerance below 1e-6 is met reliably even at eps 1e-6.
RELIABLE_EPS = (1e-7, 1e-4)
RELIABLE_TOL = 1e-6


@dataclass(frozen=True)
class ParamCheck:
    """One parameter's comparison: the worst entry's absolute and relative error."""

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    passed: bool


@dataclass(frozen=True)
class GradcheckResult:
    """The table of :func:`gradcheck`: one row per parameter, and the settings used."""

    rows: list[ParamCheck]
    eps: float
    tol: float

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    @property
    def worst(self) -> ParamCheck:
        return max(self.rows, key=lambda row: row.max_rel_error)

    def inconclusive(self, flag: str = "") -> str:
        """Why a failed check says nothing about the backward ('' when its settings decide):
        a step or tolerance where correct gradients fail too. ``flag`` prefixes the settings'
        names (``"--"`` for the CLI)."""
        if self.passed:
            return ""
        low, high = RELIABLE_EPS
        if not low <= self.eps <= high:
            error = (
                "truncation error grows as eps^2" if self.eps > high else "rounding error as 1/eps"
            )
            return (
                f"with {flag}eps {self.eps:g} the finite differences themselves are off ({error}; "
                f"{low:g} to {high:g} decides in float64): check again with {flag}eps 1e-6 before "
                "suspecting the backward"
            )
        if self.tol < RELIABLE_TOL:
            return (
                f"{flag}tol {self.tol:g} is below what float64 finite differences resolve (about "
                f"{RELIABLE_TOL:g}): check again with {flag}tol 1e-5 before suspecting the backward"
            )
        return ""

    def failure(self, flag: str = "") -> str:
        """One line naming the worst parameter ('' when every parameter passed)."""
        if self.passed:
            return ""
        w = self.worst
        failed = sum(not row.passed for row in self.rows)
        verdict = self.inconclusive(flag) or "its backward is wrong"
        return (
            f"gradient check failed for {failed} of {len(self.rows)} parameters: {w.name} has "
            f"relative error {w.max_rel_error:.3g} > {flag}tol {self.tol:g}; {verdict}"
        )


def gradcheck(
    loss: Callable[[], float],
    params: Mapping[str, ArrayLike],
    grads: Mapping[str, ArrayLike],
    *,
    eps: float = 1e-6,
    tol: float = 1e-5,
    floor: float = 1e-3,
) -> GradcheckResult:
    """Check ``grads`` (the backward's answer at the current ``params``) against central
    differences of ``loss()``, a function of the params' current values.

    ``params`` are float64 arrays or CPU tensors; each entry is nudged in place by ``+eps`` and
    ``-eps`` and put back, so ``loss`` must read them where they live (as a model does).
    """
    if not 0 < eps < float("inf"):
        raise ConfigError(f"eps must be a positive number, got {eps!r}")
    if not 0 <= tol < float("inf"):
        raise ConfigError(f"tol must be a number >= 0, got {tol!r}")
    rows = []
    for name, param in params.items():
        values = _array(param)
        if values.dtype != np.float64:
            raise ConfigError(
                f"gradcheck needs float64 parameters, {name} is {values.dtype}; call .double()"
            )
        numeric = np.zeros_like(values)
        for i in np.ndindex(values.shape):
            original = values[i]
            values[i] = original + eps
            up = loss()
            values[i] = original - eps
            down = loss()
            values[i] = original
            numeric[i] = (up - down) / (2 * eps)
        analytic = np.asarray(_array(grads[name]), dtype=np.float64)
        if analytic.shape != values.shape:
            raise ValueError(f"gradient of {name} has shape {analytic.shape}, not {values.shape}")
        diff = np.abs(analytic - numeric)
        scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
        rel = float((diff / scale).max()) if diff.size else 0.0
        abs_err = float(diff.max()) if diff.size else 0.0
        rows.append(ParamCheck(name, tuple(values.shape), abs_err, rel, rel <= tol))
    return GradcheckResult(rows, eps, tol)


def _array(x: ArrayLike) -> np.ndarray[Any, np.dtype[Any]]:
    """A numpy view (shared memory) of an array or a CPU tensor."""
    return x.detach().numpy() if isinstance(x, Tensor) else x


def check_manual_mlp(
    hidden: tuple[int, ...] = (8,),
    activation: str = "tanh",
    loss: str = "ce",
    *,
    in_features: int = 4,
    classes: int = 3,
    batch: int = 8,
    seed: int = 0,
    eps: float = 1e-6,
    tol: float = 1e-5,
) -> GradcheckResult:
    """Gradient-check the hand-written backward of :class:`looplab.manual.mlp.ManualMLP` on a
    random float64 batch: ``loss`` is ``mse``, ``bce`` or ``ce`` (cross-entropy)."""
    from looplab.manual.layers import ACTIVATIONS
    from looplab.manual.losses import LOSSES
    from looplab.manual.mlp import ManualMLP
    from looplab.models.mlp import ModelSpec, build_model, parameter_count

    if loss not in LOSS_TASKS:
        raise ConfigError(f"unknown loss {one_of(loss, list(LOSS_TASKS))}")
    if activation not in ACTIVATIONS:
        raise ConfigError(
            f"the manual MLP has no activation {one_of(activation, list(ACTIVATIONS))}"
        )
    task = LOSS_TASKS[loss]
    outputs = classes if task == "multiclass" else 1
    spec = ModelSpec(in_features, outputs, tuple(hidden), activation)
    count = parameter_count(spec)
    if count > MAX_PARAMETERS:
        raise ConfigError(
            f"a gradient check of {count:,} parameters takes two forward passes per parameter; "
            f"check at most {MAX_PARAMETERS:,}: use narrower --hidden or fewer --inputs"
        )
    if batch > MAX_BATCH:
        raise ConfigError(f"--batch must be at most {MAX_BATCH:,} rows, got {batch:,}")
    net = ManualMLP.from_module(build_model(spec, seed=seed).double())  # checks the activation
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, in_features, generator=g, dtype=torch.float64).numpy()
    if task == "multiclass":
        y = torch.randint(0, outputs, (batch,), generator=g).numpy()
    elif task == "binary":
        y = torch.randint(0, 2, (batch,), generator=g).double().numpy()
    else:
        y = torch.randn(batch, generator=g, dtype=torch.float64).numpy()

    loss_fn = LOSSES[task]()
    loss_fn.forward(net.forward(x), y)
    net.backward(loss_fn.backward())
    names = net.parameter_names()
    grads = {n: g.copy() for n, g in zip(names, net.gradients(), strict=True)}

    def value() -> float:
        return float(LOSSES[task]().forward(net.forward(x), y))

    params = dict(zip(names, net.parameters(), strict=True))  # views: nudged in place
    return gradcheck(value, params, grads, eps=eps, tol=tol)
