"""The exports: the PyTorch script, run in a subprocess, ends on the playground's training loss
(to 1e-6: in fact bit for bit); the looplab command and TOML are a valid looplab run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
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


RUNNER = """
import contextlib, io, json, runpy, sys
for path in sys.argv[1:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(path, run_name="__main__")
    print(json.dumps({"path": path, "last": out.getvalue().strip().splitlines()[-1]}))
"""


def run_scripts(scripts: dict[str, str], folder: Path) -> dict[str, dict[str, float]]:
    """Each script run as ``__main__`` in one fresh Python (one torch import for all: it takes
    seconds on a busy machine); its last line of output, read as JSON, by name."""
    paths = {}
    for name, script in scripts.items():
        paths[name] = folder / f"{name}.py"
        paths[name].write_text(script)
    out = subprocess.run([sys.executable, "-c", RUNNER, *map(str, paths.values())],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr
    by_path = {}
    for line in out.stdout.splitlines():
        record = json.loads(line)
        by_path[record["path"]] = json.loads(record["last"])
    return {name: by_path[str(path)] for name, path in paths.items()}


@dataclass
class Exported:
    """A finished playground run and what its exported script printed."""

    session: Session
    rows: list[dict[str, float]]
    result: dict[str, float]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    """Every configuration trained in the playground, exported and run as a script; plus a
    run exported mid-way and one on an uploaded CSV."""
    sessions, scripts = {}, {}
    for name, settings in CONFIGS.items():
        s = train(settings)
        sessions[name] = s
        scripts[name] = export_script(s.settings, s.data.task, s.data.outputs, len(s.history))
    mid = Session("mid", parse_settings({"epochs": 300, "schedule": "cosine"}), UploadStore())
    mid.play()
    while len(mid.history) < 3:
        time.sleep(0.005)
    mid.pause()
    while mid.status != "paused":
        time.sleep(0.005)
    done = len(mid.history)
    sessions["mid-run"] = mid
    scripts["mid-run"] = export_script(mid.settings, mid.data.task, mid.data.outputs, done,
                                       paused_mid_epoch=True)  # fmt: skip
    mid_rows = [dict(r) for r in mid.history.rows]
    mid.close()
    lines = ["a,b,c"] + [f"{(i * 37) % 100 / 10},{(i * 11) % 50 / 7},{'yes' if i % 3 else 'no'}"
                         for i in range(120)]  # fmt: skip
    uploads = UploadStore()
    up = uploads.add(parse_csv("\n".join(lines).encode(), "mine.csv"))
    s = train({"dataset": "upload", "upload": up.id, "epochs": 3, "hidden": [5]}, uploads)
    sessions["upload"] = s
    scripts["upload"] = export_script(s.settings, s.data.task, s.data.outputs, 3, up)
    results = run_scripts(scripts, tmp_path_factory.mktemp("exports"))
    out = {}
    for name, session in sessions.items():
        rows = mid_rows[:done] if name == "mid-run" else [dict(r) for r in session.history.rows]
        out[name] = Exported(session, rows, results[name])
    return out


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_exported_script_ends_on_the_playgrounds_loss(
    name: str, exported: dict[str, Exported]
) -> None:
    run = exported[name]
    s, got, last = run.session, run.result, run.rows[-1]
    assert got["epochs"] == len(run.rows) == s.settings.epochs
    assert abs(got["train_loss"] - last["train_loss"]) <= 1e-6
    assert abs(got["test_loss"] - last["val_loss"]) <= 1e-6
    final = s.maker.scores(s.model)  # the page's numbers: whole sets, task loss, eval mode
    assert abs(got["train_data_loss"] - final["train_loss"]) <= 1e-6
    assert abs(got["test_data_loss"] - final["test_loss"]) <= 1e-6


def test_an_export_mid_run_reproduces_the_epochs_done(exported: dict[str, Exported]) -> None:
    run = exported["mid-run"]
    assert run.result["epochs"] == len(run.rows) >= 3
    assert abs(run.result["train_loss"] - run.rows[-1]["train_loss"]) <= 1e-6


def test_an_uploaded_csv_is_embedded_and_reproduced(exported: dict[str, Exported]) -> None:
    run = exported["upload"]
    assert abs(run.result["train_loss"] - run.rows[-1]["train_loss"]) <= 1e-6


def test_the_mid_run_script_says_where_it_stops() -> None:
    s = Session("mid", parse_settings({"epochs": 300}), UploadStore())
    script = export_script(s.settings, s.data.task, s.data.outputs, 7, paused_mid_epoch=True)
    assert "EPOCHS = 7" in script and "PLANNED_EPOCHS = 300" in script
    assert "the 7 epochs the playground had finished" in script
    assert "part-way into the next one" in script


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
