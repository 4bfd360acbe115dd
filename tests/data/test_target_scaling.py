"""A regression target is standardized with training statistics, so the loss starts near 1
whatever the target's units; classification targets and ``standardize_target = false`` are left
as they are."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from looplab.config import Config
from looplab.data import load_dataset, prepare, split_indices
from looplab.data.preprocess import Preprocessor
from looplab.data.split import Split
from looplab.data.task_data import TaskData


def grams(n: int = 300, seed: int = 0) -> TaskData:
    """A body-mass-like target in grams (mean ~4200, sd ~800) from two features."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=g)
    y = 4200 + 700 * X[:, 0] - 300 * X[:, 1] + 50 * torch.randn(n, generator=g)
    return TaskData("grams", X, y, "regression", ["flipper", "bill"])


def in_memory(part: object) -> Split:
    assert isinstance(part, Split)
    return part


def test_the_target_is_standardized_with_the_training_rows_statistics() -> None:
    data = grams()
    prepared = prepare(data, Config(val_fraction=0.25, seed=3))
    pre = prepared.preprocessor
    assert pre is not None
    train_idx, val_idx, _ = split_indices(data, 0.25, 0.0, seed=3)
    raw = data.y[train_idx].double().numpy()
    assert pre.target_mean == pytest.approx(float(np.mean(raw)), rel=1e-9)
    assert pre.target_std == pytest.approx(float(np.std(raw)), rel=1e-9)
    assert prepared.target_scale == pre.target_std
    assert float(in_memory(prepared.train).y.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(in_memory(prepared.train).y.std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)
    assert prepared.val is not None  # validation rows use the training statistics
    expected = (data.y[val_idx].double() - pre.target_mean) / pre.target_std
    assert torch.allclose(in_memory(prepared.val).y.double(), expected, atol=1e-5)
    assert torch.allclose(pre.unscale_target(in_memory(prepared.val).y), data.y[val_idx], rtol=1e-6)


def test_off_switch_and_classification_leave_the_target_alone() -> None:
    data = grams()
    prepared = prepare(data, Config(val_fraction=0.25, standardize_target=False))
    pre = prepared.preprocessor
    assert pre is not None and not pre.scales_target and prepared.target_scale == 1.0
    train_idx, _, _ = split_indices(data, 0.25, 0.0, seed=0)
    assert torch.equal(in_memory(prepared.train).y, data.y[train_idx])
    moons = load_dataset("moons", n=200)
    labels = prepare(moons, Config(n=200))
    assert labels.preprocessor is not None and not labels.preprocessor.scales_target
    assert set(in_memory(labels.train).y.tolist()) == {0.0, 1.0}


def test_old_preprocessor_state_reads_as_an_unscaled_target() -> None:
    pre = Preprocessor.fit(torch.randn(10, 2), y_train=torch.arange(10.0))
    state = {k: v for k, v in pre.state_dict().items() if not k.startswith("target_")}
    old = Preprocessor.from_state_dict(state)
    assert (old.target_mean, old.target_std) == (0.0, 1.0)
    assert torch.equal(old.unscale_target(torch.tensor([2.5])), torch.tensor([2.5]))
    again = Preprocessor.from_state_dict(pre.state_dict())
    assert again.target_std == pytest.approx(float(np.std(np.arange(10.0))))
