"""A `looplab train --clip-norm` run resumed mid-epoch reports the same clip columns as one that
was never stopped: the clip counter's state rides in the run's checkpoints (like --monitor's)."""

from __future__ import annotations

import shutil
from pathlib import Path

from looplab.config import Config
from looplab.loop.history import History
from looplab.pipeline import train
from looplab.run.resume import resume_config
from looplab.watch.checkpoint import CHECKPOINT_DIR, list_checkpoints


def test_a_clipped_run_resumed_mid_epoch_has_the_same_clip_columns(tmp_path: Path) -> None:
    # 14 batches an epoch: a checkpoint every 5 updates falls mid-epoch
    config = Config(epochs=3, n=210, batch_size=12, clip_norm=0.3, checkpoint_steps=5,
                    keep_checkpoints=100, out=str(tmp_path / "runs"), name="whole",
                    device="cpu").validate()  # fmt: skip
    whole = train(config).run_dir
    assert whole is not None
    reference = History.from_csv(whole / "history.csv")
    assert 0 < reference.rows[0]["clip_frac"] < 1  # the clip acted on some updates, not all
    checkpoints = list_checkpoints(whole / CHECKPOINT_DIR)
    middle = [p for p in checkpoints if "-b000000" not in p.name and "-b000014" not in p.name]
    assert middle, [p.name for p in checkpoints]
    stopped = tmp_path / "runs" / "stopped"
    shutil.copytree(whole, stopped)
    keep = middle[len(middle) // 2].name
    for path in list_checkpoints(stopped / CHECKPOINT_DIR):
        if path.name > keep:
            path.unlink()
    (stopped / "status.json").write_text('{"status": "interrupted"}')
    (stopped / "history.csv").unlink()  # as if stopped before the epoch's row was written
    resumed = train(resume_config(stopped, None, {}), resume=stopped).history
    for ref, got in zip(reference.rows, resumed.rows, strict=True):
        assert got["clip_frac"] == ref["clip_frac"], keep
        assert got["grad_norm"] == ref["grad_norm"], keep
