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


class RunningMetrics:
    """Sums over an epoch's batches; :meth:`result` turns them into loss, accuracy or R^2 and MAE.

    Sums stay on the tensors' device until :meth:`result`, so nothing syncs per batch on a GPU.
    A classification batch's loss and correct count are kept as they come (the count with one
    numpy call on the CPU) and summed in bulk every ``FOLD`` batches: for small models the
    per-batch bookkeeping is a visible share of the step.
    """

    FOLD = 1024  # batches kept before they are summed into ``sums``

    def __init__(self, task: str, target_scale: float = 1.0, reduce: Reduce | None = None) -> None:
        self.task = task
        self.target_scale = target_scale  # the MAE is reported times this: in the target's units
        self.reduce = reduce  # sums over every process (None: this process is the whole run)
        self.count = 0
        self.total = 0  # rows on every process, as of the last result()
        self.sums: dict[str, Tensor | float] = {}
        self.losses: list[Tensor] = []  # each batch's mean loss, not yet summed
        self.sizes: list[int] = []  # each batch's size, the loss's weight
        self.counted: list[int] = []  # each batch's correct count, counted on the CPU
        self.on_device: list[Tensor] = []  # or kept on its device (no sync per batch)

    def update(self, loss: Tensor, logits: Tensor, y: Tensor) -> None:
        """Add one batch: ``loss`` is its mean loss, ``logits`` (batch, out), ``y`` (batch,)."""
        n = len(y)
        self.count += n
        self.losses.append(loss.detach())
        self.sizes.append(n)
        logits = logits.detach()
        if self.task == "regression":
            err = logits.squeeze(-1).double() - y.double()
            yd = y.double()
            new = {"sse": (err * err).sum(), "sae": err.abs().sum()}
            new["y"], new["yy"] = yd.sum(), (yd * yd).sum()
            for k, v in new.items():
                self.sums[k] = self.sums.get(k, 0.0) + v
        elif logits.device.type == "cpu":  # numpy: one call instead of three tensor operations
            z, labels = logits.numpy(), y.numpy()
            predicted = z.argmax(axis=1) if self.task == "multiclass" else z[:, 0] > 0
            self.counted.append(int(np.count_nonzero(predicted == labels)))
        else:
            self.on_device.append((predict_labels(logits, self.task) == y).sum())
        if len(self.losses) >= self.FOLD:
            self._fold()

    def _fold(self) -> None:
        """Add the kept batches into ``sums``: the loss as sum(n_b * loss_b) in float64."""
        if not self.losses:
            return
        losses = torch.stack(self.losses).double()  # (batches,)
        sizes = torch.tensor(self.sizes, dtype=torch.float64, device=losses.device)
        self.sums["loss"] = self.sums.get("loss", 0.0) + (losses * sizes).sum()
        if self.counted:
            self.sums["correct"] = self.sums.get("correct", 0.0) + sum(self.counted)
        if self.on_device:
            correct = torch.stack(self.on_device).sum().double()
            self.sums["correct"] = self.sums.get("correct", 0.0) + correct
        self.losses, self.sizes, self.counted, self.on_device = [], [], [], []

    def result(self) -> dict[str, float]:
        """Metrics of everything added so far, on every process (empty before any batch)."""
        self._fold()
        s = {k: float(v) for k, v in self.sums.items()}
        if self.reduce is not None:  # a collective: every process calls it at the same point
            s = self.reduce({"count": float(self.count), **s})
            n = self.total = int(s.pop("count"))
        else:
            n = self.total = self.count
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
        self._fold()
        return {"count": self.count, **{k: float(v) for k, v in self.sums.items()}}

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        self.count = int(state["count"])
        self.sums = {k: float(v) for k, v in state.items() if k != "count"}
        self.losses, self.sizes, self.counted, self.on_device = [], [], [], []


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
