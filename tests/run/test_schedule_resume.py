"""Resuming with a schedule: a run cannot silently stretch the schedule it was planned with.

(Exact mid-epoch resume with schedules and from-scratch optimizers: tests/train/test_resume.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.errors import ConfigError
from looplab.models.mlp import build_model
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.checkpointer import Checkpointer


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
