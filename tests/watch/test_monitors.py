"""Per-layer monitors, checked against statistics computed independently from the same run."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import PreparedData
from looplab.data.split import Split
from looplab.loop.events import Callback
from looplab.loop.history import History, Row
from looplab.loop.state import LoopState
from looplab.models import MLP, ModelSpec, build_model
from looplab.run.fit import fit
from looplab.watch.monitors import LayerMonitor, load_samples


def _data(n: int = 64, seed: int = 0) -> PreparedData:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, generator=g)
    y = X[:, 0] - 2 * X[:, 1] + 0.1 * torch.randn(n, generator=g)
    val = Split(torch.randn(16, 3, generator=g), torch.randn(16, generator=g))
    names = ["a", "b", "c"]
    return PreparedData(train=Split(X, y), val=val, task="regression", feature_names=names)


class Recorder(Callback):
    """The oracle: copies of the model at each epoch start, and each step's gradients."""

    def __init__(self) -> None:
        self.models: list[MLP] = []
        self.grads: list[dict[str, Tensor]] = []

    def on_epoch_start(self, state: LoopState, epoch: int) -> None:
        assert isinstance(state.model, MLP)
        self.models.append(copy.deepcopy(state.model))

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        self.grads.append(
            {n: p.grad.clone() for n, p in state.model.named_parameters() if p.grad is not None}
        )

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        pass


def _run(
    epochs: int = 3, batch_size: int | str = "full"
) -> tuple[PreparedData, MLP, History, Recorder, LayerMonitor]:
    data = _data()
    model = build_model(ModelSpec(3, 1, (8, 6), "relu"), seed=0)
    config = Config(optimizer="sgd", lr=0.05, epochs=epochs, batch_size=batch_size, device="cpu")
    recorder, monitor = Recorder(), LayerMonitor(histogram_epochs=[1, epochs])
    history = fit(model, data, config, [recorder, monitor])
    return data, model, history, recorder, monitor


def test_gradient_norms_and_update_ratios_match_a_recomputation() -> None:
    _, model, history, rec, _ = _run()
    for epoch, row in enumerate(history, start=1):
        g = rec.grads[epoch - 1]  # full batch: one step per epoch
        for layer in ("fc1", "fc2", "fc3"):
            expected = torch.sqrt(g[f"{layer}.weight"].norm() ** 2 + g[f"{layer}.bias"].norm() ** 2)
            assert abs(row[f"grad_norm/{layer}"] - float(expected)) < 1e-5 * float(expected)
            # plain SGD: W_t - W_{t-1} = -lr * grad
            before = rec.models[epoch - 1].linear(int(layer[2:])).weight.detach()
            ratio = 0.05 * g[f"{layer}.weight"].norm() / before.norm()
            assert abs(row[f"update_ratio/{layer}"] - float(ratio)) < 1e-4 * float(ratio)
        total = torch.stack([v.norm() for v in g.values()]).norm()  # sqrt of the sum of squares
        assert abs(row["grad_norm/total"] - float(total)) < 1e-5 * float(total)
    for layer in ("fc1", "fc2", "fc3"):
        final = model.linear(int(layer[2:])).weight.detach().norm()
        assert abs(history.last[f"weight_norm/{layer}"] - float(final)) < 1e-6 * float(final)


def test_gradient_norm_is_the_mean_over_the_epochs_steps() -> None:
    _, _, history, rec, _ = _run(epochs=2, batch_size=16)  # 64 rows: 4 steps per epoch
    steps = [
        float(g["fc2.weight"].norm() ** 2 + g["fc2.bias"].norm() ** 2) ** 0.5 for g in rec.grads
    ]
    assert len(steps) == 8
    assert abs(history[1]["grad_norm/fc2"] - np.mean(steps[4:])) < 1e-5


def test_activation_mean_std_and_dead_units_match_the_epochs_forward_pass() -> None:
    data, _model, history, rec, _ = _run()
    assert isinstance(data.train, Split)
    for epoch, row in enumerate(history, start=1):
        start = rec.models[epoch - 1]
        with torch.no_grad():
            h1 = torch.relu(start.linear(1)(data.train.X))  # (64, 8): the epoch's one forward
            h2 = torch.relu(start.linear(2)(h1))  # (64, 6)
        for name, h in (("act1", h1), ("act2", h2)):
            assert abs(row[f"act_mean/{name}"] - float(h.mean())) < 1e-5
            assert abs(row[f"act_std/{name}"] - float(h.std(unbiased=False))) < 1e-5
            never = int((h <= 0).all(0).sum()) / h.shape[1]
            assert row[f"dead_frac/{name}"] == never


def test_units_killed_by_a_large_negative_bias_count_as_dead() -> None:
    data = _data()
    model = build_model(ModelSpec(3, 1, (8,), "relu"), seed=0)
    with torch.no_grad():
        model.linear(1).bias[:5] = -100.0  # 5 of 8 units can never be positive on these inputs
    monitor = LayerMonitor()
    history = fit(model, data, Config(optimizer="sgd", lr=0.01, epochs=2, device="cpu"), [monitor])
    assert [row["dead_frac/act1"] for row in history] == [5 / 8, 5 / 8]


def test_activation_samples_are_kept_at_the_chosen_epochs_and_saved(tmp_path: Path) -> None:
    data, _model, _history, rec, monitor = _run(epochs=3)
    assert sorted(monitor.samples) == [1, 3]
    assert isinstance(data.train, Split)
    h1 = torch.relu(rec.models[2].linear(1)(data.train.X))
    np.testing.assert_allclose(monitor.samples[3]["act1"], h1.detach().flatten().numpy(), rtol=1e-6)
    path = tmp_path / "acts.npz"
    monitor.save_samples(path)
    back = load_samples(path)
    assert sorted(back) == [1, 3] and sorted(back[1]) == ["act1", "act2"]
    np.testing.assert_array_equal(back[3]["act2"], monitor.samples[3]["act2"])


def test_sigmoid_layers_have_no_dead_column_and_hooks_are_removed_after_fit() -> None:
    data = _data()
    model = build_model(ModelSpec(3, 1, (8,), "sigmoid"), seed=0)
    monitor = LayerMonitor()
    history = fit(model, data, Config(epochs=1, device="cpu"), [monitor])
    assert "act_mean/act1" in history.last and "dead_frac/act1" not in history.last
    assert not model.get_submodule("act1")._forward_hooks
