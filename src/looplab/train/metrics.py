r"""Epoch metrics, accumulated batch by batch and weighted by batch size.

A short last batch must count for its size, not as a full batch: the epoch loss is
$\frac{1}{N}\sum_b n_b \bar{\ell}_b$, not the mean of batch means. For regression,
$R^2 = 1 - \mathrm{SSE}/\mathrm{SST}$ is computed from running sums, so it equals scikit-learn's
``r2_score`` over the whole epoch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from looplab.data.batches import BatchSource
from looplab.models.losses import predict_labels


class RunningMetrics:
    """Sums over an epoch's batches; :meth:`result` turns them into loss, accuracy or R^2 and MAE.

    Sums stay on the tensors' device until :meth:`result`, so nothing syncs per batch on a GPU.
    """

    def __init__(self, task: str) -> None:
        self.task = task
        self.count = 0
        self.sums: dict[str, Tensor | float] = {}

    def update(self, loss: Tensor, logits: Tensor, y: Tensor) -> None:
        """Add one batch: ``loss`` is its mean loss, ``logits`` (batch, out), ``y`` (batch,)."""
        n = len(y)
        self.count += n
        with torch.no_grad():
            new: dict[str, Tensor] = {"loss": loss.detach().double() * n}
            if self.task == "regression":
                err = logits.detach().squeeze(-1).double() - y.double()
                yd = y.double()
                new["sse"] = (err * err).sum()
                new["sae"] = err.abs().sum()
                new["y"], new["yy"] = yd.sum(), (yd * yd).sum()
            else:
                new["correct"] = (predict_labels(logits.detach(), self.task) == y).sum().double()
        for k, v in new.items():
            self.sums[k] = self.sums.get(k, 0.0) + v

    def result(self) -> dict[str, float]:
        """Metrics of everything added so far (empty before any batch)."""
        if self.count == 0:
            return {}
        s = {k: float(v) for k, v in self.sums.items()}
        n = self.count
        out = {"loss": s["loss"] / n}
        if self.task == "regression":
            sst = s["yy"] - s["y"] ** 2 / n
            out["r2"] = 1 - s["sse"] / sst if sst > 0 else float("nan")
            out["mae"] = s["sae"] / n
        else:
            out["accuracy"] = s["correct"] / n
        return out

    def state_dict(self) -> dict[str, float | int]:
        return {"count": self.count, **{k: float(v) for k, v in self.sums.items()}}

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        self.count = int(state["count"])
        self.sums = {k: float(v) for k, v in state.items() if k != "count"}


def evaluate(
    model: nn.Module,
    batches: BatchSource,
    loss_fn: nn.Module,
    task: str,
    device: torch.device | None = None,
) -> dict[str, float]:
    """Loss and metrics of ``model`` over every batch, in eval mode and without gradients."""
    was_training = model.training
    model.eval()
    metrics = RunningMetrics(task)
    with torch.no_grad():
        for xb, yb in batches.epoch():
            if device is not None:
                xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            metrics.update(loss_fn(logits, yb), logits, yb)
    model.train(was_training)
    return metrics.result()
