"""Exact resume with schedules and from-scratch optimizers: their state_dicts are complete."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.errors import ConfigError
from looplab.models.mlp import MLP, build_model
from looplab.pipeline import model_spec
from looplab.train.checkpointer import Checkpointer
from looplab.train.loop import fit


@pytest.mark.parametrize(
    ("impl", "optimizer", "schedule"),
    [
        ("scratch", "adam", "one_cycle"),
        ("scratch", "nesterov", "plateau"),
        ("torch", "adamw", "warmup_cosine"),
    ],
)
def test_resume_mid_epoch_is_bitwise_exact(
    impl: str, optimizer: str, schedule: str, tmp_path: Path
) -> None:
    config = Config(
        epochs=8,
        n=120,
        batch_size=16,
        impl=impl,
        optimizer=optimizer,
        schedule=schedule,
        lr=0.05 if schedule != "plateau" else 1e-6,
        device="cpu",  # 1e-6: plateau must cut
    ).validate()
    data = load_prepared(config)

    def new_model() -> MLP:
        return build_model(model_spec(config, data), seed=config.seed)

    reference = new_model()
    history = fit(reference, data, config)
    saver = Checkpointer(tmp_path, every_steps=7, keep=100)
    fit(new_model(), data, config, [saver])
    lrs = history.column("lr")
    assert len(set(lrs)) > 1  # the schedule moved the learning rate
    for path in saver.written[2:-1:3]:  # a few mid-run checkpoints (6 batches per epoch)
        model = new_model()
        resumed = fit(model, data, config, resume=path)
        for k, v in reference.state_dict().items():
            assert torch.equal(model.state_dict()[k], v), path.name
        assert resumed.column("lr") == lrs, path.name
        assert resumed.without_timing() == history.without_timing(), path.name


def test_resume_with_other_epochs_would_bend_the_schedule(tmp_path: Path) -> None:
    """More epochs on resume is fine at a constant lr, but a cosine planned over 4 epochs
    cannot silently stretch (torch's OneCycleLR would even crash): a one-line ConfigError."""
    config = Config(epochs=4, n=100, schedule="cosine", impl="scratch", device="cpu")
    data = load_prepared(config)
    saver = Checkpointer(tmp_path, every_epochs=2, keep=5)
    fit(build_model(model_spec(config, data), seed=0), data, config, [saver])
    longer = config.replace(epochs=8)
    with pytest.raises(
        ConfigError,
        match="schedule is cosine over 4 epochs, this run's would be "
        "cosine over 8 epochs; resume with the run's --epochs",
    ):
        fit(build_model(model_spec(longer, data), seed=0), data, longer, resume=saver.written[-1])
