"""EMA and SWA of the weights: against averages computed by hand from the weights recorded
after each step / epoch, batch-norm statistics recomputed for SWA, and exact resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.loop.events import Callback
from looplab.loop.history import Row
from looplab.loop.state import LoopState
from looplab.models.mlp import ModelSpec, build_model
from looplab.pipeline import train
from looplab.run.averaging import weight_average
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.checkpoint import read_checkpoint
from looplab.watch.checkpointer import Checkpointer


class Recorder(Callback):
    """The weights after every step and at the end of every epoch."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Tensor]] = []
        self.epochs: list[dict[str, Tensor]] = []

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        self.steps.append({k: v.clone() for k, v in state.model.state_dict().items()})

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        self.epochs.append({k: v.clone() for k, v in state.model.state_dict().items()})


def trained(config: Config) -> tuple[torch.nn.Module, Recorder]:
    data = load_prepared(config)
    model = build_model(model_spec(config, data), seed=config.seed)
    recorder = Recorder()
    averager = weight_average(config)
    assert averager is not None
    fit(model, data, config, [recorder, averager])  # the recorder sees the raw weights first
    return model, recorder


def test_ema_is_the_exponential_average_of_the_weights_after_each_step() -> None:
    config = Config(epochs=3, n=200, batch_size=20, ema_decay=0.9, device="cpu").validate()
    model, recorder = trained(config)
    average = dict(recorder.steps[0])  # the first update copies the weights
    for weights in recorder.steps[1:]:
        average = {k: 0.9 * average[k] + 0.1 * weights[k] for k in average}
    assert len(recorder.steps) == 24  # 160 training rows, 8 batches, 3 epochs
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, average[k], rtol=0, atol=1e-6)
        assert not torch.equal(v, recorder.steps[-1][k])  # not the last weights


def test_swa_is_the_mean_of_the_epoch_end_weights_from_its_start() -> None:
    config = Config(epochs=6, n=200, batch_size=20, swa_start=3, device="cpu").validate()
    model, recorder = trained(config)
    kept = recorder.epochs[2:]  # epochs 3, 4, 5, 6
    for k, v in model.state_dict().items():
        mean = torch.stack([w[k] for w in kept]).mean(dim=0)
        torch.testing.assert_close(v, mean, rtol=0, atol=1e-6)


def test_swa_recomputes_batch_norm_statistics_for_the_averaged_weights() -> None:
    config = Config(epochs=4, n=200, batch_size=20, norm="batch", swa_start=2, device="cpu",
                    val_fraction=0.2).validate()  # fmt: skip
    data = load_prepared(config)
    model, _ = trained(config)
    fc1, bn = model.get_submodule("fc1"), model.get_submodule("norm1")
    assert isinstance(bn, torch.nn.BatchNorm1d)
    with torch.no_grad():
        pre = fc1(data.train.X)  # type: ignore[union-attr]
    # update_bn: a cumulative average over the training batches (160 rows, 8 of 20)
    torch.testing.assert_close(bn.running_mean, pre.mean(dim=0), rtol=0, atol=1e-5)


def test_a_run_with_ema_ends_with_the_average_and_says_so(tmp_path: Path) -> None:
    config = Config(epochs=3, n=200, ema_decay=0.95, out=str(tmp_path), name="e").validate()
    result = train(config)
    notes = [n.text for n in result.history.notes if n.kind == "weight average"]
    assert len(notes) == 1 and "exponential moving average of the weights (decay 0.95)" in notes[0]
    saved = torch.load(tmp_path / "e" / "model.pt", weights_only=True)["state_dict"]
    for k, v in result.model.state_dict().items():
        assert torch.equal(saved[k], v)


def test_resume_mid_epoch_with_an_average_is_bitwise_exact(tmp_path: Path) -> None:
    for fields in ({"ema_decay": 0.9}, {"swa_start": 2}):
        config = Config(epochs=3, n=200, batch_size=20, dropout=0.1, device="cpu",
                        **fields).validate()  # fmt: skip
        data = load_prepared(config)

        spec = model_spec(config, data)

        def new_model(spec: ModelSpec = spec) -> torch.nn.Module:
            return build_model(spec, seed=0)

        reference = new_model()
        fit(reference, data, config, [weight_average(config)])  # type: ignore[list-item]
        averager = weight_average(config)
        assert averager is not None
        folder = tmp_path / next(iter(fields))
        saver = Checkpointer(folder, every_steps=7, keep=100, parts={"average": averager})
        fit(new_model(), data, config, [averager, saver])
        for path in saver.written[1:4]:  # after steps 14, 21 (mid-epoch) and 28
            model = new_model()
            payload = read_checkpoint(path)
            fit(model, data, config, [weight_average(config, payload)], resume=payload)  # type: ignore[list-item]
            for k, v in model.state_dict().items():
                assert torch.equal(v, reference.state_dict()[k]), (fields, path.name, k)


@pytest.mark.parametrize("fields", [{"swa_start": 2}, {"ema_decay": 0.9}], ids=["swa", "ema"])
def test_a_finished_run_resumed_for_longer_averages_as_a_straight_run(
    tmp_path: Path, fields: dict[str, Any]
) -> None:
    """The checkpoints keep the raw weights beside the average: a finished SWA or EMA run
    continued for more epochs ends where one straight run of that length ends, bitwise."""

    def config(epochs: int, name: str) -> Config:
        return Config(epochs=epochs, n=100, out=str(tmp_path), name=name, **fields).validate()

    straight = train(config(3, "straight"))
    train(config(2, "resumed"))
    longer = train(config(3, "resumed"), resume=tmp_path / "resumed")
    for k, v in straight.model.state_dict().items():
        assert torch.equal(longer.model.state_dict()[k], v), k
    notes = [n.text for n in longer.history.notes if n.kind == "weight average"]
    assert len(notes) == 1, notes  # the finished run's note is not carried over
