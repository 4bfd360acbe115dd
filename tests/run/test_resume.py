"""Exact resume: from any checkpoint, and after SIGKILL at random and chosen moments."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from looplab.cli import run
from looplab.config import Config
from looplab.data.prepared import PreparedData, load_prepared
from looplab.data.split import Split
from looplab.errors import ConfigError
from looplab.loop.history import History
from looplab.models.cnn import CNN, build_network
from looplab.models.mlp import MLP, build_model
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.checkpoint import CHECKPOINT_DIR, list_checkpoints, read_checkpoint
from looplab.watch.checkpointer import Checkpointer
from looplab.watch.monitors import ACTIVATIONS_FILE, load_samples

DRIVER = Path(__file__).with_name("kill_driver.py")


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def check_exact_resume(
    config: Config, data: PreparedData, tmp_path: Path, every_steps: int, pick: slice
) -> History:
    """Train straight through, then again writing a checkpoint every ``every_steps``; resume a
    fresh model from each picked checkpoint and require the straight run's weights, bitwise, and
    its history rows (timing aside; the ``lr`` column included). Returns the straight history."""

    def new_model() -> MLP | CNN:
        return build_network(model_spec(config, data), seed=config.seed)

    reference = new_model()
    history = fit(reference, data, config)
    saver = Checkpointer(tmp_path, every_steps=every_steps, keep=100)
    fit(new_model(), data, config, [saver])
    picked = saver.written[pick]
    assert picked, "no checkpoint to resume from"
    for path in picked:
        model = new_model()
        resumed = fit(model, data, config, resume=path)
        assert same_weights(model.state_dict(), reference.state_dict()), path.name
        assert resumed.without_timing() == history.without_timing(), path.name
    return history


def test_resume_from_every_checkpoint_is_bitwise_exact(tmp_path: Path) -> None:
    # dropout (global torch RNG), shuffling, Adam moments, a schedule-free lr, early stopping;
    # 11 batches per epoch: checkpoints every 5 steps fall mid-epoch, plus the final one
    config = Config(
        epochs=4, n=160, dropout=0.2, batch_size=12, patience=3, device="cpu"
    ).validate()
    check_exact_resume(config, load_prepared(config), tmp_path, every_steps=5, pick=slice(None))


@pytest.mark.parametrize(
    "fields",
    [
        {"engine": "manual", "impl": "scratch", "optimizer": "momentum", "schedule": "cosine"},
        {"engine": "manual", "optimizer": "adam", "schedule": "one_cycle"},  # fused rule
        {"impl": "scratch", "optimizer": "adamw", "schedule": "warmup_cosine", "warmup": 1},
        {"optimizer": "rmsprop", "schedule": "plateau", "norm": "batch"},
        {"optimizer": "nesterov", "schedule": "one_cycle", "dropout": 0.3},
        {"dataset": "spiral", "mixup": 0.3, "label_smoothing": 0.1, "optimizer": "adamw"},
    ],
    ids=[
        "manual-engine",
        "manual-fused-adam",
        "scratch-adamw-warmup",
        "rmsprop-plateau-batchnorm",
        "one-cycle",
        "mixup-label-smoothing",
    ],
)
def test_exact_resume_with_every_engine_optimizer_and_schedule(
    tmp_path: Path, fields: dict[str, Any]
) -> None:
    config = Config(epochs=3, n=120, batch_size=10, device="cpu", **fields)
    config.validate()
    # mid-epoch checkpoints: optimizer and schedule state matter
    check_exact_resume(config, load_prepared(config), tmp_path, every_steps=7, pick=slice(1, 4))


@pytest.mark.parametrize(
    ("impl", "optimizer", "schedule"),
    [
        ("scratch", "adam", "one_cycle"),
        ("scratch", "nesterov", "plateau"),
        ("torch", "adamw", "warmup_cosine"),
    ],
)
def test_resume_mid_epoch_with_a_moving_learning_rate(
    impl: str, optimizer: str, schedule: str, tmp_path: Path
) -> None:
    """Schedules and from-scratch optimizers: their state_dicts hold all a resume needs."""
    config = Config(
        epochs=8,
        n=120,
        batch_size=16,
        impl=impl,
        optimizer=optimizer,
        schedule=schedule,
        lr=0.05 if schedule != "plateau" else 1e-6,  # 1e-6: plateau must cut
        device="cpu",
    ).validate()
    # 6 batches per epoch: a few mid-run checkpoints
    history = check_exact_resume(
        config, load_prepared(config), tmp_path, every_steps=7, pick=slice(2, -1, 3)
    )
    assert len(set(history.column("lr"))) > 1  # the schedule moved the learning rate


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_exact_resume_with_augmented_images(tmp_path: Path, model: str) -> None:
    """Shifts and rotations are drawn per epoch from the batches' generator: a mid-epoch resume
    draws them again, and the weights come out bitwise the same."""
    config = Config(dataset="mnist-5k", model=model, hidden=[16], epochs=2, batch_size=25,
                    augment_shift=2, augment_rotate=10, dropout=0.2, device="cpu")  # fmt: skip
    config.validate()
    full = load_prepared(config)
    assert isinstance(full.train, Split) and isinstance(full.val, Split)
    data = dataclasses.replace(full, train=Split(full.train.X[:200], full.train.y[:200]),
                               val=Split(full.val.X[:100], full.val.y[:100]))  # fmt: skip
    # 8 batches per epoch: checkpoints after steps 3 and 6 (epoch 1), 9 and 12 (epoch 2)
    check_exact_resume(config, data, tmp_path, every_steps=3, pick=slice(0, 4))


def test_exact_resume_of_a_torch_dataset(tmp_path: Path) -> None:
    """A streamed Dataset (DataLoader batches) resumes exactly too: its sampler's generator goes
    back to the epoch's start and the loader replays the batches already done."""
    config = Config(epochs=2, n=120, batch_size=10, dropout=0.2, device="cpu").validate()
    split = load_prepared(config)
    assert isinstance(split.train, Split)
    data = dataclasses.replace(split, train=TensorDataset(split.train.X, split.train.y))
    check_exact_resume(config, data, tmp_path, every_steps=5, pick=slice(0, 3))


def test_resume_refuses_a_config_that_changes_the_result(tmp_path: Path) -> None:
    config = Config(epochs=2, n=100, device="cpu").validate()
    data = load_prepared(config)
    saver = Checkpointer(tmp_path, extra={"config": config.to_dict()})  # as a run's checkpoints
    fit(build_model(model_spec(config, data), seed=0), data, config, [saver])
    changed = config.replace(lr=0.1, seed=3, epochs=5)
    with pytest.raises(ConfigError) as info:
        fit(build_model(model_spec(config, data), seed=0), data, changed, resume=saver.written[-1])
    message = str(info.value)
    assert "lr (0.01 -> 0.1)" in message and "seed (0 -> 3)" in message
    assert "epochs" not in message  # more epochs is harmless
    assert "\n" not in message


def train_args(out: Path, *extra: str) -> list[str]:
    return [
        "train", "--n", "120", "--epochs", "3", "--batch-size", "16", "--device", "cpu",
        "--out", str(out), "--name", "r", "--checkpoint-steps", "4", "--keep-checkpoints", "10",
        *extra,
    ]  # fmt: skip


def test_cli_resume_with_more_epochs_is_reported_and_continues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(train_args(tmp_path)) == 0
    assert run(["train", "--resume", str(tmp_path / "r")]) == 2  # already complete
    assert "is already complete (3 epochs)" in capsys.readouterr().err
    assert run(["train", "--resume", str(tmp_path / "r"), "--epochs", "5"]) == 0
    err = capsys.readouterr().err
    assert "changed on resume: epochs (3 -> 5)" in err
    assert len(History.from_csv(tmp_path / "r" / "history.csv")) == 5
    assert json.loads((tmp_path / "r" / "status.json").read_text())["status"] == "complete"
    assert "epochs = 5" in (tmp_path / "r" / "config.toml").read_text()


def test_cli_resume_with_a_changed_seed_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(train_args(tmp_path, "--epochs", "1")) == 0
    code = run(["train", "--resume", str(tmp_path / "r"), "--seed", "1", "--hidden", "8"])
    err = capsys.readouterr().err
    assert code == 2
    assert "hidden ([16, 16] -> [8])" in err and "seed (0 -> 1)" in err
    assert "Traceback" not in err


def test_cli_resume_skips_a_damaged_checkpoint_and_matches_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(train_args(tmp_path / "x")) == 0
    run_dir = tmp_path / "x" / "r"
    ref = torch.load(run_dir / "model.pt", weights_only=True)["state_dict"]
    ckpts = list_checkpoints(run_dir / CHECKPOINT_DIR)
    # pretend the run died at step 12 and its newest checkpoint got a flipped bit
    for path in ckpts:
        if read_checkpoint(path)["step"] > 12:
            path.unlink()
    newest = list_checkpoints(run_dir / CHECKPOINT_DIR)[-1]
    data = bytearray(newest.read_bytes())
    data[-50] ^= 1
    newest.write_bytes(bytes(data))
    (run_dir / "status.json").write_text('{"status": "interrupted"}')
    capsys.readouterr()
    assert run(["train", "--resume", str(run_dir)]) == 0
    err = capsys.readouterr().err
    assert f"{newest.name}' is damaged: its checksum does not match; resuming from" in err
    got = torch.load(run_dir / "model.pt", weights_only=True)["state_dict"]
    assert same_weights(ref, got)


def test_resume_of_a_missing_run_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["train", "--resume", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot resume") and "no such run directory" in err


def test_sigkill_at_any_moment_then_resume_is_bitwise_exact(tmp_path: Path) -> None:
    """14 kills (8 chosen moments: mid-step, mid-checkpoint-write, before the rename, during
    rotation, during validation, during the report; 6 at random times), each followed by
    `looplab train --resume`, end with the same weights and history as an unkilled run, the
    --monitor columns and activation samples included."""
    out = subprocess.run(
        [sys.executable, str(DRIVER), "kill", str(tmp_path), "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    log = (tmp_path / "log.txt").read_text()
    assert "Traceback" not in log, log[-3000:]
    assert report["reference"] == "exit 0" and report["final"] == "exit 0"
    kinds = [e["kind"] for e in report["events"]]
    assert [e["outcome"] for e in report["events"]] == ["killed"] * len(kinds)
    assert len(kinds) >= 10
    assert {"step", "checkpoint-write", "validation", "report"} <= set(kinds)
    ref_dir, run_dir = tmp_path / "reference", tmp_path / "killed"
    ref = torch.load(ref_dir / "model.pt", weights_only=True)["state_dict"]
    got = torch.load(run_dir / "model.pt", weights_only=True)["state_dict"]
    assert same_weights(ref, got)
    assert (
        History.from_csv(run_dir / "history.csv").without_timing()
        == History.from_csv(ref_dir / "history.csv").without_timing()
    )
    assert json.loads((run_dir / "status.json").read_text())["status"] == "complete"
    assert not list((run_dir / CHECKPOINT_DIR).glob(".*.tmp"))
    ref_samples = load_samples(ref_dir / ACTIVATIONS_FILE)
    got_samples = load_samples(run_dir / ACTIVATIONS_FILE)
    assert ref_samples.keys() == got_samples.keys() and len(ref_samples) == 3  # epochs 1, 10, 20
    for epoch, layers in ref_samples.items():
        assert layers.keys() == got_samples[epoch].keys()
        for layer, values in layers.items():
            np.testing.assert_array_equal(got_samples[epoch][layer], values)
