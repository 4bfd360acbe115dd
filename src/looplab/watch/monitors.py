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

The monitor is part of exact resume: :meth:`LayerMonitor.state_dict` holds the samples of the
epochs done and, mid-epoch, the epoch's unreduced outputs and per-step sums as they are, so a
run resumed from a checkpoint writes the very columns and samples of an uninterrupted one.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from looplab.files import write_atomic
from looplab.loop.events import Callback
from looplab.loop.history import History, Row
from looplab.loop.state import LoopState

ACTIVATIONS_FILE = "activations.npz"


# Outputs kept per layer before they are reduced: bounds the memory the monitor holds.
REDUCE_EVERY = 1 << 20  # elements


@dataclass
class _ActivationStats:
    """One activation layer over an epoch: its outputs are kept by reference (no work per
    batch) and reduced every ``REDUCE_EVERY`` elements and at the epoch's end."""

    relu: bool
    pending: list[Tensor] = field(default_factory=list)  # (batch, units) outputs not reduced yet
    pending_size: int = 0
    total: float = 0.0
    squares: float = 0.0
    count: int = 0
    peak: Tensor | None = None  # (units,) max output seen: a unit fired if its peak > 0
    sample: list[Tensor] = field(default_factory=list)  # kept outputs, (rows, units) each
    sampled_rows: int = 0

    def add(self, h: Tensor) -> None:
        self.pending.append(h)
        self.pending_size += h.numel()
        if self.pending_size >= REDUCE_EVERY:
            self.reduce()

    def reduce(self) -> None:
        if not self.pending:
            return
        h = torch.cat(self.pending).double()  # (rows, units)
        self.pending, self.pending_size = [], 0
        self.total += float(h.sum())
        self.squares += float((h * h).sum())
        self.count += h.numel()
        if self.relu:
            peak = h.amax(dim=0)
            self.peak = peak if self.peak is None else torch.maximum(self.peak, peak)


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
        self._handles: list[RemovableHandle] = []
        self._sampling = False
        self._squares: list[Tensor] = []  # per step of the epoch: (params + 2 * layers,)
        self._start_squares: Tensor | None = None  # (layers,) squared weight norms at its start
        self._resume_epoch: dict[str, Any] | None = None  # mid-epoch state to put back

    # ---- exact resume -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to go on exactly: samples of finished epochs, the gradient norm
        of every step, and the current epoch's accumulators (outputs not yet reduced are kept
        concatenated: reducing them early would change the sums in the last bits)."""
        acts = {}
        for name, s in self._acts.items():
            acts[name] = {
                "relu": s.relu,
                "pending": torch.cat(s.pending).cpu() if s.pending else None,
                "total": s.total,
                "squares": s.squares,
                "count": s.count,
                "peak": s.peak.cpu() if s.peak is not None else None,
                "sample": torch.cat(s.sample).cpu() if s.sample else None,
                "sampled_rows": s.sampled_rows,
            }
        return {
            "samples": {
                str(epoch): {layer: torch.from_numpy(v.copy()) for layer, v in layers.items()}
                for epoch, layers in self.samples.items()
            },
            "step_totals": torch.tensor(self.step_totals, dtype=torch.float64),
            "epoch": {
                "acts": acts,
                "squares": torch.stack(self._squares).cpu() if self._squares else None,
                "start_squares": (
                    self._start_squares.cpu() if self._start_squares is not None else None
                ),
                "sampling": self._sampling,
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back :meth:`state_dict`; the epoch's accumulators return when a resumed run
        starts its interrupted epoch (``on_epoch_start`` with batches already done)."""
        self.samples = {
            int(epoch): {layer: v.numpy() for layer, v in layers.items()}
            for epoch, layers in state["samples"].items()
        }
        self.step_totals = [float(x) for x in state["step_totals"].tolist()]
        self._resume_epoch = state["epoch"]

    def _restore_epoch(self, saved: dict[str, Any], device: torch.device) -> None:
        for name, a in saved["acts"].items():
            stats = _ActivationStats(relu=bool(a["relu"]))
            if a["pending"] is not None:
                stats.pending = [a["pending"].to(device)]
                stats.pending_size = a["pending"].numel()
            stats.total, stats.squares, stats.count = a["total"], a["squares"], a["count"]
            stats.peak = a["peak"].to(device) if a["peak"] is not None else None
            stats.sample = [a["sample"].to(device)] if a["sample"] is not None else []
            stats.sampled_rows = a["sampled_rows"]
            self._acts[name] = stats
        squares = saved["squares"]
        self._squares = list(squares.to(device).unbind(0)) if squares is not None else []
        start = saved["start_squares"]
        self._start_squares = start.to(device) if start is not None else self._start_squares
        self._sampling = bool(saved["sampling"])

    # ---- events -------------------------------------------------------------------------

    def on_fit_start(self, state: LoopState) -> None:
        model = state.model  # under the manual engine, the same layers (hooks see nothing)
        for handle in self._handles:  # a rollback restarts fit without ending it
            handle.remove()
        self._handles.clear()
        layers = linear_layers(model)
        self.layer_names = [n for n, _ in layers]
        self._weights = [m.weight for _, m in layers]
        self._all_params = [p for p in model.parameters() if p.requires_grad]
        device = state.device
        index = {id(p): i for i, p in enumerate(self._all_params)}
        # (layers, params) 0/1: which parameters (weight, bias) belong to each linear layer
        self._membership = torch.zeros(
            len(layers), len(self._all_params), dtype=torch.float64, device=device
        )
        for i, (_, m) in enumerate(layers):
            for p in m.parameters(recurse=False):
                self._membership[i, index[id(p)]] = 1.0
        # One bincount per step sums the squares of [every gradient | every weight | every
        # update] into (params + 2 * layers,) bins: bins 0..P-1 gradients of each parameter,
        # P..P+L-1 weights of each layer, P+L..P+2L-1 their updates. The owners map each element
        # of that flat vector to its bin.
        n_params, n_layers = len(self._all_params), len(layers)
        sizes = [w.numel() for w in self._weights]
        self._bins = n_params + 2 * n_layers
        self._owner = torch.cat(
            (
                _owners([p.numel() for p in self._all_params], device),
                _owners(sizes, device) + n_params,
                _owners(sizes, device) + n_params + n_layers,
            )
        )
        self._weight_owner = _owners(sizes, device)
        self._previous = _flat(self._weights)
        if self.histogram_epochs is None:
            last = state.epochs
            self.histogram_epochs = {1, max(1, last // 2), last}
        for name, module in activation_layers(model):
            relu = isinstance(module, nn.ReLU)
            self._acts[name] = _ActivationStats(relu=relu)
            self._handles.append(module.register_forward_hook(self._hook(name)))

    def on_epoch_start(self, state: LoopState, epoch: int) -> None:
        saved, self._resume_epoch = self._resume_epoch, None
        if saved is not None and state.batch > 0:  # resumed mid-epoch: go on where it stopped
            self._restore_epoch(saved, state.device)
            return
        self._sampling = epoch in (self.histogram_epochs or set())
        for name, stats in self._acts.items():
            self._acts[name] = _ActivationStats(relu=stats.relu)
        self._squares = []  # per step: (params + 2 * layers,) sums of squares
        w = self._previous
        n = len(self.layer_names)
        self._start_squares = torch.bincount(self._weight_owner, weights=w * w, minlength=n)

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        # A handful of whole-model kernels, nothing reduced per layer: epoch_stats does that.
        with torch.no_grad():
            grads = [
                p.grad if p.grad is not None else torch.zeros_like(p) for p in self._all_params
            ]
            flat = _flat([*grads, *self._weights])  # (grad elements + weight elements,)
            w = flat[flat.numel() - self._previous.numel() :]  # this step's weights
            both = torch.cat((flat, w - self._previous))
            self._squares.append(
                torch.bincount(self._owner, weights=both * both, minlength=self._bins)
            )
            self._previous = w

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        row.update(self.epoch_stats(epoch))

    def on_fit_end(self, state: LoopState, history: History) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    # ---- measurements -------------------------------------------------------------------

    def last_step_finite(self) -> bool | None:
        """Whether every gradient, weight and update of the latest step is finite (None before
        the first step): one sum of the step's squares, which any NaN or inf poisons."""
        squares = getattr(self, "_squares", None)
        return math.isfinite(float(squares[-1].sum())) if squares else None

    def epoch_stats(self, epoch: int) -> Row:
        """The columns of this epoch (called at its end)."""
        out: Row = {}
        for name, s in self._acts.items():
            s.reduce()
            if s.count:
                mean = s.total / s.count
                var = s.squares / s.count - mean * mean
                out[f"act_mean/{name}"], out[f"act_std/{name}"] = mean, max(var, 0.0) ** 0.5
            if s.peak is not None:
                out[f"dead_frac/{name}"] = int((s.peak <= 0).sum()) / s.peak.numel()
            if s.sample:
                values = torch.cat(s.sample).flatten().float().cpu().numpy()
                self.samples.setdefault(epoch, {})[name] = values
        n = len(self.layer_names)
        if self._squares and self._start_squares is not None:
            squares = torch.stack(self._squares).double()  # (steps, params + 2 * layers)
            p = len(self._all_params)
            grads = squares[:, :p]  # (steps, params)
            per_layer = (grads @ self._membership.T).sqrt()  # (steps, layers)
            totals = grads.sum(1).sqrt().tolist()  # (steps,)
            self.step_totals.extend(totals)
            out |= {
                f"grad_norm/{name}": v
                for name, v in zip(self.layer_names, per_layer.mean(0).tolist(), strict=True)
            }
            out["grad_norm/total"] = sum(totals) / len(totals)
            after, moved = squares[:, p : p + n].sqrt(), squares[:, p + n :].sqrt()
            before = torch.cat((self._start_squares.double().sqrt()[None], after[:-1]))
            ratios = (moved / before.clamp_min(1e-12)).mean(0).tolist()  # (layers,)
            out |= {
                f"update_ratio/{name}": v for name, v in zip(self.layer_names, ratios, strict=True)
            }
        for i, w in enumerate(self._weights):
            out[f"weight_norm/{self.layer_names[i]}"] = float(w.detach().norm())
        return out

    def _hook(self, name: str) -> Callable[[nn.Module, tuple[Tensor, ...], Tensor], None]:
        def record(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            if not module.training:  # validation passes are not training statistics
                return
            s = self._acts[name]
            h = output.detach()  # (batch, units); kept by reference, reduced later
            s.add(h)
            if self._sampling and s.sampled_rows < self.sample_rows:
                keep = h[: self.sample_rows - s.sampled_rows]
                s.sample.append(keep)
                s.sampled_rows += len(keep)

        return record

    def save_samples(self, path: Path) -> None:
        """Write the sampled activations as ``.npz`` with keys ``epoch<E>/<layer>``
        (atomically: a crash or a full disk leaves no half-written file)."""
        arrays = {
            f"epoch{epoch}/{layer}": values
            for epoch, layers in sorted(self.samples.items())
            for layer, values in layers.items()
        }
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        write_atomic(path, buffer.getvalue())


def _flat(tensors: Sequence[Tensor]) -> Tensor:
    """Every element of ``tensors`` in one 1-D tensor (a copy: later steps do not change it)."""
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def _owners(sizes: list[int], device: torch.device) -> Tensor:
    """``[0]*sizes[0] + [1]*sizes[1] + ...``: the index of the tensor each element came from."""
    counts = torch.tensor(sizes, device=device)
    return torch.repeat_interleave(torch.arange(len(sizes), device=device), counts)


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
