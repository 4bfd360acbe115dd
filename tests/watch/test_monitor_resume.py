"""--monitor is part of exact resume: the monitor's state rides in every checkpoint, so a run
resumed from any of them writes the same monitor columns and activation samples as one that
was never stopped (the kill test in tests/run/test_resume.py does it through the CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.models.mlp import MLP, build_model
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.checkpoint import read_checkpoint
from looplab.watch.checkpointer import Checkpointer
from looplab.watch.monitors import LayerMonitor, load_samples


@pytest.mark.parametrize("every_steps", [5, 14], ids=["mid-epoch", "epoch-ends"])
def test_a_monitored_run_resumes_to_the_same_columns_and_samples(
    tmp_path: Path, every_steps: int
) -> None:
    # 14 batches per epoch: checkpoints every 5 steps fall mid-epoch, every 14 at epoch ends
    config = Config(epochs=3, n=210, batch_size=12, dropout=0.1, device="cpu").validate()
    data = load_prepared(config)

    def new_model() -> MLP:
        return build_model(model_spec(config, data), seed=config.seed)

    reference_monitor = LayerMonitor()
    reference = fit(new_model(), data, config, [reference_monitor])
    monitored = [c for c in reference.columns() if "/" in c]
    assert any(c.startswith("act_mean/") for c in monitored)
    assert any(c.startswith("update_ratio/") for c in monitored)

    saving = LayerMonitor()
    saver = Checkpointer(tmp_path, every_steps=every_steps, keep=100, parts={"monitor": saving})
    fit(new_model(), data, config, [saving, saver])
    assert len(saver.written) >= 3
    for path in saver.written:
        monitor = LayerMonitor()
        monitor.load_state_dict(read_checkpoint(path)["monitor"])
        resumed = fit(new_model(), data, config, [monitor], resume=path)
        assert resumed.without_timing() == reference.without_timing(), path.name
        assert monitor.samples.keys() == reference_monitor.samples.keys(), path.name
        for epoch, layers in reference_monitor.samples.items():
            for layer, values in layers.items():
                np.testing.assert_array_equal(monitor.samples[epoch][layer], values)
        assert monitor.step_totals == reference_monitor.step_totals, path.name

    reference_monitor.save_samples(tmp_path / "a.npz")  # the file round-trips too
    assert load_samples(tmp_path / "a.npz").keys() == reference_monitor.samples.keys()
