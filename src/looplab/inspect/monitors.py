r"""Per-layer monitors: what each layer's activations, gradients and weights do, epoch by epoch.

:class:`LayerMonitor` is a callback. Forward hooks on the activation layers (``act1``, ``act2``,
...) sum what comes out during training; after every optimizer step it measures each linear
layer's gradient norm and update-to-weight ratio $\lVert \Delta W \rVert / \lVert W \rVert$.
At the end of each epoch it writes one column per statistic and layer into the history row:

- ``act_mean/act1``, ``act_std/act1``: mean and std of the layer's outputs over the epoch;
- ``dead_frac/act1`` (ReLU only): fraction of units that were never positive during the epoch;
- ``grad_norm/fc1``: $\lVert \nabla_{W,b} L \rVert$ of the layer, averaged over the epoch's
  steps, and ``grad_norm/total`` over all parameters;
- ``weight_norm/fc1``: $\lVert W \rVert_F$ at the end of the epoch;
- ``update_ratio/fc1``: $\lVert W_{t} - W_{t-1} \rVert / \lVert W_{t-1} \rVert$ averaged over
  steps (about 1e-3 is healthy; 1e-1 is a very large step, 1e-6 a frozen layer).

Everything per step stays in tensors (fused ``torch._foreach_*`` calls, no Python loop over
parameters), so the overhead on a small MLP stays small (``benchmarks/monitor_overhead.py``).
At chosen epochs it also keeps a sample of each activation layer's outputs for histograms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from looplab.train.callbacks import Callback
from looplab.train.history import History, Row
from looplab.train.state import LoopState

ACTIVATIONS_FILE = "activations.npz"


@dataclass
class _ActivationStats:
    """Running sums of one activation layer's outputs over an epoch."""

    relu: bool
    total: Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.float64))
    squares: Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.float64))
    count: int = 0
    fired: Tensor | None = None  # (units,) True where the unit was positive at least once
    sample: list[Tensor] = field(default_factory=list)  # kept outputs, (rows, units) each
    sampled_rows: int = 0


def network(model: nn.Module) -> nn.Module:
    """The layered network behind the loop's model (the MLP under the manual engine's wrapper)."""
    inner = getattr(getattr(model, "engine", None), "model", None)
    return inner if isinstance(inner, nn.Module) else model


def linear_layers(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    """The model's linear layers in forward order, with their names (``fc1``, ``fc2``...)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]


def activation_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The activation layers (``act1``...): parameter-free leaves named ``act*``."""
    return [
        (n, m)
        for n, m in model.named_modules()
        if n.rsplit(".", 1)[-1].startswith("act") and not list(m.children())
    ]


class LayerMonitor(Callback):
    """Records per-layer statistics into each epoch's history row (see the module docstring).

    ``histogram_epochs``: epochs whose activations are sampled (``None``: first, middle, last);
    up to ``sample_rows`` rows per layer and epoch are kept, in :attr:`samples`.
    """

    def __init__(
        self, histogram_epochs: Sequence[int] | None = None, sample_rows: int = 2000
    ) -> None:
        self.histogram_epochs = set(histogram_epochs) if histogram_epochs is not None else None
        self.sample_rows = sample_rows
        self.samples: dict[int, dict[str, np.ndarray]] = {}  # epoch -> layer -> values (flat)
        self.step_totals: list[float] = []  # total gradient norm of every step of the run
        self.layer_names: list[str] = []
        self._acts: dict[str, _ActivationStats] = {}
        self._handles: list[Any] = []
        self._sampling = False

    # ---- events -------------------------------------------------------------------------

    def on_fit_start(self, state: LoopState) -> None:
        model = network(state.model)  # forward hooks see nothing under the manual engine
        for handle in self._handles:  # a rollback restarts fit without ending it
            handle.remove()
        self._handles.clear()
        layers = linear_layers(model)
        self.layer_names = [n for n, _ in layers]
        self._weights = [m.weight for _, m in layers]
        self._params = [p for _, m in layers for p in m.parameters(recurse=False)]
        owner = [i for i, (_, m) in enumerate(layers) for _ in m.parameters(recurse=False)]
        self._owner = torch.tensor(owner, device=state.device)  # (params,) layer index
        self._all_params = [p for p in model.parameters() if p.requires_grad]
        self._previous = [w.detach().clone() for w in self._weights]
        if self.histogram_epochs is None:
            last = state.config.epochs
            self.histogram_epochs = {1, max(1, last // 2), last}
        for name, module in activation_layers(model):
            relu = isinstance(module, nn.ReLU)
            self._acts[name] = _ActivationStats(relu=relu)
            self._handles.append(module.register_forward_hook(self._hook(name)))

    def on_epoch_start(self, state: LoopState, epoch: int) -> None:
        self._sampling = epoch in (self.histogram_epochs or set())
        for name, stats in self._acts.items():
            self._acts[name] = _ActivationStats(relu=stats.relu)
        n = len(self.layer_names)
        self._grad_sum = torch.zeros(n, device=state.device)
        self._ratio_sum = torch.zeros(n, device=state.device)
        self._totals: list[Tensor] = []
        self._steps = 0

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        with torch.no_grad():
            grads = [p.grad for p in self._params]
            if all(g is not None for g in grads):
                norms = torch.stack(torch._foreach_norm(grads))  # type: ignore[arg-type]
                per_layer = torch.zeros_like(self._grad_sum).index_add_(0, self._owner, norms**2)
                self._grad_sum += per_layer.sqrt()
                every = [p.grad for p in self._all_params if p.grad is not None]
                total = torch.stack(torch._foreach_norm(every)).square().sum().sqrt()
                self._totals.append(total)
            weights = [w.detach() for w in self._weights]
            deltas = torch._foreach_sub(weights, self._previous)
            moved = torch.stack(torch._foreach_norm(deltas))
            size = torch.stack(torch._foreach_norm(self._previous))
            self._ratio_sum += moved / size.clamp_min(1e-12)
            torch._foreach_copy_(self._previous, weights)
            self._steps += 1

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        row.update(self.epoch_stats(epoch))

    def on_fit_end(self, state: LoopState, history: History) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    # ---- measurements -------------------------------------------------------------------

    def last_step_total(self) -> float | None:
        """Total gradient norm of the latest step (None before any step with gradients)."""
        return float(self._totals[-1]) if getattr(self, "_totals", None) else None

    def epoch_stats(self, epoch: int) -> Row:
        """The columns of this epoch (called at its end)."""
        out: Row = {}
        for name, s in self._acts.items():
            if s.count:
                mean = float(s.total) / s.count
                var = max(float(s.squares) / s.count - mean * mean, 0.0)
                out[f"act_mean/{name}"], out[f"act_std/{name}"] = mean, var**0.5
            if s.relu and s.fired is not None:
                out[f"dead_frac/{name}"] = int((~s.fired).sum()) / s.fired.numel()
            if s.sample:
                values = torch.cat(s.sample).flatten().float().cpu().numpy()
                self.samples.setdefault(epoch, {})[name] = values
        steps = max(self._steps, 1)
        grads = (self._grad_sum / steps).tolist()
        ratios = (self._ratio_sum / steps).tolist()
        totals = torch.stack(self._totals).tolist() if self._totals else []
        self.step_totals.extend(totals)
        for i, name in enumerate(self.layer_names):
            if self._totals:
                out[f"grad_norm/{name}"] = grads[i]
            out[f"weight_norm/{name}"] = float(self._weights[i].detach().norm())
            if self._steps:
                out[f"update_ratio/{name}"] = ratios[i]
        if totals:
            out["grad_norm/total"] = sum(totals) / len(totals)
        return out

    def _hook(self, name: str) -> Any:
        def record(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            if not module.training:  # validation passes are not training statistics
                return
            s = self._acts[name]
            with torch.no_grad():
                h = output.detach()  # (batch, units)
                s.total += h.sum(dtype=torch.float64)
                s.squares += (h.double() ** 2).sum()
                s.count += h.numel()
                if s.relu:
                    fired = (h > 0).any(dim=0)  # (units,)
                    s.fired = fired if s.fired is None else s.fired | fired
                if self._sampling and s.sampled_rows < self.sample_rows:
                    keep = h[: self.sample_rows - s.sampled_rows]
                    s.sample.append(keep.clone())
                    s.sampled_rows += len(keep)

        return record

    def save_samples(self, path: Path) -> None:
        """Write the sampled activations as ``.npz`` with keys ``epoch<E>/<layer>``."""
        arrays = {
            f"epoch{epoch}/{layer}": values
            for epoch, layers in self.samples.items()
            for layer, values in layers.items()
        }
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def load_samples(path: Path) -> dict[int, dict[str, np.ndarray]]:
    """Read what :meth:`LayerMonitor.save_samples` wrote: epoch -> layer -> values."""
    out: dict[int, dict[str, np.ndarray]] = {}
    with np.load(path) as data:
        for key in data.files:
            epoch, layer = key.split("/", 1)
            out.setdefault(int(epoch.removeprefix("epoch")), {})[layer] = data[key]
    return dict(sorted(out.items()))


def layer_columns(history: History, stat: str) -> dict[str, list[float]]:
    """``{layer: values per epoch}`` for one statistic, e.g. ``grad_norm`` (``total`` left out)."""
    prefix = f"{stat}/"
    return {
        c.removeprefix(prefix): history.column(c)
        for c in history.columns()
        if c.startswith(prefix) and c != f"{stat}/total"
    }
