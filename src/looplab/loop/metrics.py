r"""Epoch metrics, accumulated batch by batch and weighted by batch size.

A short last batch must count for its size, not as a full batch: the epoch loss is
$\frac{1}{N}\sum_b n_b \bar{\ell}_b$, not the mean of batch means. For regression,
$R^2 = 1 - \mathrm{SSE}/\mathrm{SST}$ is computed from running sums, so it equals scikit-learn's
``r2_score`` over the whole epoch.

When the loop learns a standardized target $z_y = (y - \mu_y) / \sigma_y$, the loss is the MSE on
that standardized target and $R^2$ is the same in either unit, but an MAE is only readable in
the target's units: ``target_scale`` ($\sigma_y$) is given explicitly and multiplies the MAE.

In a data-parallel run each process sees its own rows: ``reduce`` (an all-reduce of the sums,
:mod:`looplab.run.distributed`) adds every process's sums before the metrics are computed, so
they are those of all the rows, as one process would have computed them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from looplab.loop.protocols import BatchSource, LossFn
from looplab.models.losses import predict_labels

Reduce = Callable[[dict[str, float]], dict[str, float]]
"""Given this process's sums (and ``count``), the sums over every process."""

SUMS = {"regression": ("loss", "sse", "sae", "y", "yy"), "classification": ("loss", "correct")}


class RunningMetrics:
    r"""Sums over an epoch's batches; :meth:`result` turns them into loss, accuracy or R^2 and MAE.

    ``sums`` holds, in float64: the loss as $\sum_b n_b \bar\ell_b$, then the correct count
    (classification), or the sums of squared and absolute errors, of y and of y^2 (regression).
    On the CPU each batch is added with a few numpy calls (for small models the per-batch
    bookkeeping is a visible share of the step); off the CPU the sums stay a tensor on the device
    until :meth:`result`, so nothing waits for the device each batch. Either way batches are
    added one after the other, so a resumed epoch adds up to the very same numbers.
    """

    def __init__(self, task: str, target_scale: float = 1.0, reduce: Reduce | None = None) -> None:
        self.task = task
        self.target_scale = target_scale  # the MAE is reported times this: in the target's units
        self.reduce = reduce  # sums over every process (None: this process is the whole run)
        self.names = SUMS["regression" if task == "regression" else "classification"]
        self.count = 0
        self.total = 0  # rows on every process, as of the last result()
        self.sums = dict.fromkeys(self.names, 0.0)
        self.on_cpu: bool | None = None  # known from the first batch
        self.device_sums: Tensor | None = None  # (len(names),) off the CPU, else None

    def update(self, loss: Tensor, logits: Tensor, y: Tensor) -> None:
        """Add one batch: ``loss`` is its mean loss, ``logits`` (batch, out), ``y`` (batch,), or
        class probabilities (batch, classes) under mixup: a prediction is then right when it is
        the class with the larger share of the mixed label."""
        if y.ndim == 2 and self.task == "multiclass":
            y = y.argmax(dim=1)  # (batch,)
        if self.on_cpu is None:
            self._start(logits.device)
        n = len(y)
        self.count += n
        z = logits.detach() if logits.requires_grad else logits  # (batch, out)
        if self.device_sums is not None:
            self.device_sums += device_batch_sums(self.task, loss.detach(), z, y)
            return
        sums, labels = self.sums, y.numpy()
        sums["loss"] += loss.item() * n
        if self.task == "regression":
            t = labels.astype(np.float64)  # (batch,)
            err = z.numpy().reshape(n) - t  # (batch,) float64, from (batch, 1) or (batch,)
            sums["sse"] += float(err @ err)
            sums["sae"] += float(np.add.reduce(np.abs(err)))
            sums["y"] += float(np.add.reduce(t))
            sums["yy"] += float(t @ t)
        else:  # one numpy call each, where tensor operations cost several times more
            zn = z.numpy()
            predicted = zn.argmax(axis=1) if self.task == "multiclass" else zn.reshape(n) > 0
            sums["correct"] += int(np.count_nonzero(predicted == labels))

    def _start(self, device: torch.device) -> None:
        self.on_cpu = device.type == "cpu"
        if not self.on_cpu:
            values = [self.sums[k] for k in self.names]
            self.device_sums = torch.tensor(values, dtype=torch.float64, device=device)

    def _sync(self) -> None:
        """Bring the device's sums back (one wait for the device)."""
        if self.device_sums is not None:
            self.sums = dict(zip(self.names, self.device_sums.tolist(), strict=True))

    def result(self) -> dict[str, float]:
        """Metrics of everything added so far, on every process (empty before any batch)."""
        self._sync()
        s, n = dict(self.sums), self.count
        if self.reduce is not None:  # a collective: every process calls it at the same point
            s = self.reduce({"count": float(n), **s})
            n = int(s.pop("count"))
        self.total = n
        if n == 0:
            return {}
        out = {"loss": s["loss"] / n}
        if self.task == "regression":
            sst = s["yy"] - s["y"] ** 2 / n
            out["r2"] = 1 - s["sse"] / sst if sst > 0 else float("nan")
            out["mae"] = s["sae"] / n * self.target_scale
        else:
            out["accuracy"] = s["correct"] / n
        return out

    def state_dict(self) -> dict[str, float | int]:
        self._sync()
        return {"count": self.count, **self.sums}

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        self.count = int(state["count"])
        self.sums = {k: float(state.get(k, 0.0)) for k in self.names}
        self.on_cpu, self.device_sums = None, None  # the next batch puts them on its device


def device_batch_sums(task: str, loss: Tensor, logits: Tensor, y: Tensor) -> Tensor:
    """One batch's terms of :attr:`RunningMetrics.sums`, as a tensor on the batch's device."""
    n = len(y)
    if task == "regression":
        err, yd = logits.reshape(n).double() - y.double(), y.double()  # (batch,)
        terms = [loss.double() * n, (err * err).sum(), err.abs().sum(), yd.sum(), (yd * yd).sum()]
    else:
        correct = (predict_labels(logits, task) == y).sum()
        terms = [loss.double() * n, correct.double()]
    return torch.stack(terms)


def evaluate(
    model: nn.Module,
    batches: BatchSource,
    loss_fn: LossFn,
    task: str,
    device: torch.device | None = None,
    target_scale: float = 1.0,
    reduce: Reduce | None = None,
) -> dict[str, float]:
    """Loss and metrics of ``model`` over every batch, in eval mode and without gradients
    (``target_scale`` and ``reduce``: see :class:`RunningMetrics`)."""
    was_training = model.training
    model.eval()
    metrics = RunningMetrics(task, target_scale, reduce)
    with torch.no_grad():
        for xb, yb in batches.epoch():
            if device is not None:
                xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            metrics.update(loss_fn(logits, yb), logits, yb)
    model.train(was_training)
    return metrics.result()
