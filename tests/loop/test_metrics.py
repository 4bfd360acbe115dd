"""Epoch metrics weighted by batch size, checked against scikit-learn over the whole epoch."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import accuracy_score, mean_absolute_error, r2_score

from looplab.loop import RunningMetrics
from looplab.models import TaskLoss


def test_regression_metrics_equal_scikit_learn_over_uneven_batches() -> None:
    torch.manual_seed(0)
    pred, y = torch.randn(103, 1), torch.randn(103)
    metrics = RunningMetrics("regression")
    loss_fn = TaskLoss("regression")
    for start in range(0, 103, 25):  # batches of 25, 25, 25, 25 and 3
        p, t = pred[start : start + 25], y[start : start + 25]
        metrics.update(loss_fn(p, t), p, t)
    result = metrics.result()
    assert result["loss"] == pytest.approx(((pred[:, 0] - y) ** 2).mean().item(), rel=1e-6)
    assert result["r2"] == pytest.approx(r2_score(y.numpy(), pred[:, 0].numpy()), rel=1e-6)
    assert result["mae"] == pytest.approx(
        mean_absolute_error(y.numpy(), pred[:, 0].numpy()), rel=1e-6
    )


def test_short_last_batch_counts_for_its_size() -> None:
    logits = torch.tensor([[5.0, 0.0]] * 9 + [[0.0, 5.0]])  # 9 predicted 0, one predicted 1
    y = torch.zeros(10, dtype=torch.long)
    metrics = RunningMetrics("multiclass")
    loss_fn = TaskLoss("multiclass")
    for start in (0, 8):  # a batch of 8, then a short batch of 2
        metrics.update(
            loss_fn(logits[start : start + 8], y[start : start + 8]),
            logits[start : start + 8],
            y[start : start + 8],
        )
    result = metrics.result()
    assert result["accuracy"] == pytest.approx(accuracy_score(y, logits.argmax(1)))
    assert result["loss"] == pytest.approx(loss_fn(logits, y).item(), rel=1e-6)


def test_state_round_trips() -> None:
    m = RunningMetrics("binary")
    m.update(torch.tensor(0.5), torch.tensor([[1.0], [-1.0]]), torch.tensor([1.0, 1.0]))
    copy = RunningMetrics("binary")
    copy.load_state_dict(m.state_dict())
    assert copy.result() == m.result() == {"loss": 0.5, "accuracy": 0.5}


def test_target_scale_puts_the_mae_in_the_target_units_and_leaves_loss_and_r2() -> None:
    torch.manual_seed(1)
    pred, z = torch.randn(40, 1), torch.randn(40)  # standardized predictions and targets
    loss_fn = TaskLoss("regression")
    plain, scaled = RunningMetrics("regression"), RunningMetrics("regression", target_scale=250.0)
    for m in (plain, scaled):
        m.update(loss_fn(pred, z), pred, z)
    y, y_hat = 4000 + 250 * z.numpy(), 4000 + 250 * pred[:, 0].numpy()  # in grams
    assert scaled.result()["mae"] == pytest.approx(mean_absolute_error(y, y_hat), rel=1e-5)
    assert scaled.result()["r2"] == pytest.approx(r2_score(y, y_hat), rel=1e-5)
    assert scaled.result()["loss"] == plain.result()["loss"]  # MSE on the standardized target


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_a_resumed_epoch_adds_up_to_the_same_bits(task: str) -> None:
    """Batches are added one after the other into float64 sums: stopping after any batch and
    continuing from state_dict gives exactly the uninterrupted result."""
    g = torch.Generator().manual_seed(1)
    outputs = {"regression": 1, "binary": 1, "multiclass": 4}[task]
    logits = torch.randn(103, outputs, generator=g) * 3
    y = {
        "regression": torch.randn(103, generator=g),
        "binary": (torch.rand(103, generator=g) > 0.5).float(),
        "multiclass": torch.randint(0, 4, (103,), generator=g),
    }[task]
    loss_fn = TaskLoss(task)
    batches = [(logits[i : i + 10], y[i : i + 10]) for i in range(0, 103, 10)]
    straight = RunningMetrics(task)
    for z, t in batches:
        straight.update(loss_fn(z, t), z, t)
    for stop in range(1, len(batches)):
        first = RunningMetrics(task)
        for z, t in batches[:stop]:
            first.update(loss_fn(z, t), z, t)
        resumed = RunningMetrics(task)
        resumed.load_state_dict(first.state_dict())
        for z, t in batches[stop:]:
            resumed.update(loss_fn(z, t), z, t)
        assert resumed.result() == straight.result()
        assert resumed.state_dict() == straight.state_dict()


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_sums_kept_on_a_device_equal_the_cpu_sums(task: str) -> None:
    """Off the CPU the sums stay a device tensor (no wait per batch); same numbers."""
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(50, 3 if task == "multiclass" else 1, generator=g)
    y = torch.randint(0, 3, (50,), generator=g) if task == "multiclass" else torch.randn(50)
    if task == "binary":
        y = (y > 0).float()
    loss_fn, cpu, device = TaskLoss(task), RunningMetrics(task), RunningMetrics(task)
    device.on_cpu, device.device_sums = False, torch.zeros(len(device.names), dtype=torch.float64)
    for i in range(0, 50, 16):
        z, t = logits[i : i + 16], y[i : i + 16]
        cpu.update(loss_fn(z, t), z, t)
        device.update(loss_fn(z, t), z, t)
    for key, value in cpu.result().items():
        assert device.result()[key] == pytest.approx(value, rel=1e-12), key
