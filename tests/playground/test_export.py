"""The exports: the PyTorch script, run in a subprocess, ends on the playground's training loss
(to 1e-6: in fact bit for bit); the looplab command and TOML are a valid looplab run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from looplab.cli import run as cli_run
from looplab.playground.export_looplab import data_csv, export_looplab
from looplab.playground.export_torch import export_script
from looplab.playground.session import Session
from looplab.playground.settings import parse_settings
from looplab.playground.uploads import UploadStore, parse_csv

CONFIGS: dict[str, dict[str, Any]] = {
    "tf-defaults": {"epochs": 4},
    "dropout-batchnorm-residual-cosine": {
        "epochs": 4, "dropout": 0.3, "norm": "batch", "hidden": [8, 8], "residual": True,
        "optimizer": "adam", "lr": 0.01, "schedule": "cosine", "warmup": 1,
        "regularization": "L1", "reg_rate": 0.001, "init": "xavier_normal", "activation": "relu",
    },
    "blobs-layernorm-plateau-l2": {
        "epochs": 7, "dataset": "blobs", "classes": 4, "norm": "layer", "schedule": "plateau",
        "optimizer": "momentum", "lr": 0.3, "regularization": "L2", "reg_rate": 0.01,
        "features": ["x1", "x2", "sin(x1)"],
    },
    "regression-one-cycle-adamw-full-batch": {
        "epochs": 3, "problem": "regression", "dataset": "multigauss", "schedule": "one_cycle",
        "optimizer": "adamw", "weight_decay": 0.01, "batch_size": 1000, "activation": "gelu",
    },
    "moons-step-nesterov-linear": {
        "epochs": 6, "dataset": "moons", "schedule": "step", "optimizer": "nesterov",
        "noise": 0.2, "hidden": [],
    },
    "spiral3-exponential-rmsprop-dropout-kaiming": {
        "epochs": 3, "dataset": "spiral3", "schedule": "exponential", "optimizer": "rmsprop",
        "lr": 0.003, "dropout": 0.1, "init": "kaiming_uniform", "activation": "leaky_relu",
        "features": ["x1", "x2", "x1^2", "x2^2", "x1*x2", "cos(x1)"],
    },
}  # fmt: skip


def train(settings: dict[str, Any], uploads: UploadStore | None = None) -> Session:
    s = Session("export", parse_settings(settings), uploads or UploadStore())
    s.play()
    deadline = time.monotonic() + 60
    while s.status == "running":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert s.status == "done", s.error
    return s


def run_script(script: str, tmp_path: Path) -> dict[str, float]:
    path = tmp_path / "export.py"
    path.write_text(script)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_exported_script_ends_on_the_playgrounds_loss(name: str, tmp_path: Path) -> None:
    s = train(CONFIGS[name])
    script = export_script(s.settings, s.data.task, s.data.outputs, len(s.history))
    got = run_script(script, tmp_path)
    last = s.history.last
    assert got["epochs"] == len(s.history) == s.settings.epochs
    assert abs(got["train_loss"] - last["train_loss"]) <= 1e-6
    assert abs(got["test_loss"] - last["val_loss"]) <= 1e-6
    final = s.maker.scores(s.model)  # the page's numbers: whole sets, task loss, eval mode
    assert abs(got["train_data_loss"] - final["train_loss"]) <= 1e-6
    assert abs(got["test_data_loss"] - final["test_loss"]) <= 1e-6


def test_an_export_mid_run_reproduces_the_epochs_done(tmp_path: Path) -> None:
    s = Session("mid", parse_settings({"epochs": 300, "schedule": "cosine"}), UploadStore())
    s.play()
    while len(s.history) < 3:
        time.sleep(0.005)
    s.pause()
    while s.status != "paused":
        time.sleep(0.005)
    done = len(s.history)
    rows = [dict(r) for r in s.history.rows]
    script = export_script(s.settings, s.data.task, s.data.outputs, done, paused_mid_epoch=True)
    assert f"EPOCHS = {done}" in script and "PLANNED_EPOCHS = 300" in script
    s.close()
    got = run_script(script, tmp_path)
    assert abs(got["train_loss"] - rows[done - 1]["train_loss"]) <= 1e-6


def test_an_uploaded_csv_is_embedded_and_reproduced(tmp_path: Path) -> None:
    lines = ["a,b,c"] + [f"{(i * 37) % 100 / 10},{(i * 11) % 50 / 7},{'yes' if i % 3 else 'no'}"
                         for i in range(120)]  # fmt: skip
    uploads = UploadStore()
    up = uploads.add(parse_csv("\n".join(lines).encode(), "mine.csv"))
    s = train({"dataset": "upload", "upload": up.id, "epochs": 3, "hidden": [5]}, uploads)
    script = export_script(s.settings, s.data.task, s.data.outputs, 3, up)
    got = run_script(script, tmp_path)
    assert abs(got["train_loss"] - s.history.last["train_loss"]) <= 1e-6


def test_the_script_is_clean_python(tmp_path: Path) -> None:
    """ruff finds nothing to say about it, and it imports nothing but torch and numpy."""
    s = Session("lint", parse_settings(CONFIGS["dropout-batchnorm-residual-cosine"]), UploadStore())
    script = export_script(s.settings, s.data.task, s.data.outputs, 0)
    path = tmp_path / "playground_export.py"
    path.write_text(script)
    imports = {line.split()[1].split(".")[0] for line in script.splitlines()
               if line.startswith(("import ", "from "))}  # fmt: skip
    assert imports == {"__future__", "collections", "json", "math", "numpy", "torch"}
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select",
                           "E,F,W,I,B,UP", "--line-length", "100", str(path)],
                          capture_output=True, text=True)  # fmt: skip
    assert lint.returncode == 0, lint.stdout


def test_the_looplab_export_is_a_run_looplab_accepts(tmp_path: Path) -> None:
    s = Session("cli", parse_settings({"dataset": "gauss", "epochs": 2, "regularization": "L2",
                                       "reg_rate": 0.01}), UploadStore())  # fmt: skip
    out = export_looplab(s.settings, s.data.task)
    assert out.csv_name == "playground_gauss_seed0.csv"
    assert any(
        line.startswith("regularization: looplab train has no L2") for line in out.unsupported
    )
    (tmp_path / out.csv_name).write_text(data_csv(s.settings, s.data))
    (tmp_path / "playground.toml").write_text(out.toml)
    (tmp_path / "runs").mkdir()
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = cli_run(["train", "--config", "playground.toml", "--out", str(tmp_path / "runs")])
    finally:
        os.chdir(cwd)
    assert code == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "history.csv").read_text().count("\n") == 3  # header and 2 epochs


def test_looplab_datasets_are_named_not_exported_as_csv() -> None:
    out = export_looplab(parse_settings({"dataset": "spiral3", "noise": 0.1}), "multiclass")
    assert "--dataset spiral --n 500 --noise 0.1" in out.command and out.csv_name is None
    blobs = export_looplab(parse_settings({"dataset": "blobs", "classes": 4}), "multiclass")
    assert "--noise 0.5" in blobs.command  # cluster std 0.5 + 2 * noise
    five = export_looplab(parse_settings({"dataset": "blobs", "classes": 5}), "multiclass")
    assert five.csv_name is not None  # looplab's blobs has 4
