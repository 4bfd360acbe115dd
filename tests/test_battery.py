"""The reliability battery: odd input to every command, and what must hold whatever it is.

Each case is a command line, generated from the tables below (config flags, each command's own
options, config files, CSV contents, damaged run directories), run in-process through
``looplab.cli.run`` with a fresh ``--out``. For each:

- exit 0, or exit 2 with one ``error:`` line (the last on stderr), or 130 / 143 on a signal;
- no traceback;
- nothing written outside ``--out`` (the shared fixtures are fingerprinted before and after);
- a refusal (exit 2, not a run that diverged while training) writes nothing at all.

Signals, a full disk and concurrent runs come last: signals in-process (a timer thread sends
them to this process while the command runs), a full disk through a small tmpfs (root only,
skipped elsewhere), and a second process holding a run. With ``LOOPLAB_BATTERY_LOG=FILE`` each
case appends ``{"case", "exit"}`` to FILE (the counts in the report come from there).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import looplab.cli
from looplab.cli import run

# ---------------------------------------------------------------- the tables

# train: each config field with values that should be refused, odd values that should work,
# and a valid one or two; every case runs on top of BASE (1 epoch of 60 moons).
FIELD_VALUES: dict[str, list[str]] = {
    "dataset": ["moon", "csv:", "csv:missing.csv", "", "iris", "csv:good.csv", "csv:{w}"],
    "n": ["0", "-5", "1", "5", "1e3", "60.0", "10000000000", "x"],
    "noise": ["-1", "-0", "nan", "inf", "1e39", "x", "1e38", "-inf"],
    "target": ["y"],
    "drop": [",,"],
    "impute": ["bogus", "MEAN"],
    "task": ["bogus", "regression"],
    "val_fraction": ["-0.1", "1", "0.99", "nan", "0", "x"],
    "test_fraction": ["0.5", "1", "nan", "-1"],
    "model": ["cnn", ""],
    "hidden": ["0", "16,,16", "-1", "1e9", "100000,100000", "", "x", ",4", "4,", "4;4",
               "99999999999999999999"],
    "activation": ["swish", "RELU", ""],
    "dropout": ["1", "-0.1", "0.99", "nan", "inf"],
    "norm": ["batch", "group", ""],
    "init": ["zeros", "bogus", ""],
    "init_scale": ["nan", "-1", "inf", "1e39", "-inf"],
    "optimizer": ["nesterov", "bogus", ""],
    "impl": ["jax", ""],
    "engine": ["manual", "bogus"],
    "lr": ["0", "-1", "nan", "inf", "1e39", "1e-300", "abc", "-0", "1e400"],
    "momentum": ["1", "-0.5", "nan", "0.99999999", "inf"],
    "weight_decay": ["-1", "inf", "1e308", "nan", "1e30"],
    "schedule": ["one_cycle", "bogus", ""],
    "warmup": ["-1", "1", "1000", "x"],
    "epochs": ["0", "-1", "1.5", "x", "99999999999999999999999"],
    "batch_size": ["0", "-1", "1", "1000000000", "abc", "1.5", ""],
    "patience": ["-1", "x", "1000000000000"],
    "seed": ["-1", "4294967296", "9223372036854775808", "4294967295", "x", "1e3"],
    "device": ["cuda", "tpu", ""],
    "threads": ["-1", "2147483648", "1025"],
    "checkpoint_every": ["-1", "x", "1.5"],
    "checkpoint_steps": ["-1", "1000000000000"],
    "keep_checkpoints": ["0", "-1"],
    "on_nan": ["retry", ""],
    "out": ["", "{w}/afile.txt", "{w}/afile.txt/sub", "o" * 300],
    "name": ["../x", "/tmp/looplab-battery-abs", "a/b", ".", "..", "n" * 300, ".hidden", "",
             "a\\b"],
}  # fmt: skip
FLAGS = ["--no-standardize", "--residual", "--monitor"]
BASE = ["--epochs", "1", "--n", "60", "--device", "cpu"]

# the other commands: ({w}: the shared fixtures, {out}: this case's output directory)
COMMAND_CASES: list[list[str]] = [
    *[["sweep", *v, "--epochs", "1", "--n", "60", "--out", "{out}"] for v in [
        ["--vary", "lr=,"], ["--vary", "lr"], ["--vary", "=1"], ["--vary", "bogus=1"],
        ["--vary", "seed=1,2"], ["--vary", "lr=0.1,0.1"], ["--vary", "lr=0.01,0.1"],
        ["--vary", "batch_size=1,full", "--norm", "batch"],
        ["--vary", "lr=1,2", "--vary", "epochs=1", "--vary", "n=60"],
        ["--vary", "lr=0.1", "--vary", "lr=0.2"], ["--vary", "lr=0.1", "--seeds", "0"],
        ["--vary", "lr=0.1", "--seeds", "-1"],
        ["--vary", "lr=0.1", "--jobs", "0"], ["--vary", "lr=0.1", "--jobs", "100000"],
        ["--vary", "lr=0.1", "--target-metric", "nan"], ["--vary", "lr=0.1", "--name", "../x"],
        ["--vary", "dataset=moons,iris"], ["--vary", "lr=1e5,0.01", "--dataset", "linear",
                                           "--model", "linear", "--optimizer", "sgd"],
        ["--vary", "norm=batch,layer", "--batch-size", "47"], ["--vary", "lr=0.1", "x"],
        ["--vary", "activation=relu,swish"], ["--vary", "dataset=csv:{w}/good.csv",
                                              "--target", "label"],
    ]],
    *[["sweep", "--resume", *v] for v in [
        ["{w}/nowhere"], ["{w}/runs/good"], ["{w}/runs/sweep"], ["{w}/runs/sweep", "--epochs",
                                                                 "3"],
        ["{w}/runs/sweep", "--vary", "lr=0.5"], ["{w}/runs/sweep", "--seeds", "2"],
        ["{w}/runs/sweep", "--jobs", "2"], ["{w}/afile.txt"],
    ]],
    *[["compare", *v, "--epochs", "1", "--out", "{out}"] for v in [
        ["--batch-sizes", ""], ["--batch-sizes", "0"], ["--batch-sizes", "-1"],
        ["--batch-sizes", "x"], ["--batch-sizes", "1,1"], ["--batch-sizes", "8,full",
                                                           "--seeds", "1"],
        ["--batch-size", "8"], ["--seeds", "0"],
        ["--lr", "3", "--batch-sizes", "8,full", "--seeds", "1"],
        ["--batch-sizes", "100000"], ["--model", "mlp", "--norm", "batch",
                                      "--batch-sizes", "1"],
        ["--name", "../x"], ["--seed", "4294967295", "--seeds", "2"], ["--lr", "nan"],
    ]],
    *[["lr-find", *v, "--out", "{out}"] for v in [
        ["--steps", "5"], ["--steps", "10"], ["--steps", "1000000"], ["--start-lr", "0"],
        ["--start-lr", "nan"], ["--end-lr", "inf"], ["--start-lr", "1", "--end-lr", "0.1"],
        ["--norm", "batch", "--batch-size", "1"],
        ["--dataset", "csv:{w}/good.csv", "--target", "label", "--steps", "5"],
        ["--name", "/abs", "--steps", "10"], ["--hidden", "100000,100000"],
    ]],
    *[["landscape", *v] for v in [
        ["{w}/runs/good", "--resolution", "2", "--out", "{out}"],
        ["{w}/runs/good", "--resolution", "3", "--rows", "5", "--out", "{out}"],
        ["{w}/runs/good", "--resolution", "100000", "--out", "{out}"],
        ["{w}/runs/good", "--span", "nan", "--out", "{out}"],
        ["{w}/runs/good", "--span", "-1", "--out", "{out}"],
        ["{w}/runs/good", "--span", "1e300", "--out", "{out}"],
        ["{w}/runs/good", "--rows", "0", "--out", "{out}"],
        ["{w}/runs/good", "--seed", "-1", "--out", "{out}"],
        ["{w}/runs/good", "--out", "{w}/afile.txt"],
        ["--out", "{out}"], ["{w}/nowhere", "--out", "{out}"],
        ["{w}/somedir", "--out", "{out}"],
        ["--linear", "--epochs", "2", "--out", "{out}"],
        ["--linear", "--batch-sizes", "0", "--out", "{out}"],
        ["--linear", "--batch-sizes", "x", "--out", "{out}"],
        ["--linear", "--lr", "0", "--out", "{out}"],
        ["--linear", "--dataset", "moons", "--out", "{out}"],
        ["--linear", "--epochs", "0", "--out", "{out}"],
        ["{w}/runs/nopath", "--resolution", "3", "--out", "{out}"],
        ["{w}/runs/badpath", "--resolution", "3", "--out", "{out}"],
    ]],
    *[["regularize", *v, "--out", "{out}"] for v in [
        ["--epochs", "1", "--hidden", "4"], ["--norm", "batch", "--batch-size", "1"],
        ["--lr", "nan"], ["--engine", "manual"], ["--name", "../x"], ["--epochs", "0"],
        ["--n", "3"],
    ]],
    *[["gradcheck", *v] for v in [
        [], ["--activation", "swish"], ["--activation", "gelu"], ["--loss", "x"],
        ["--hidden", "0"], ["--hidden", "16", "16"], ["--hidden", "1000,1000"],
        ["--inputs", "0"], ["--classes", "1"], ["--batch", "0"], ["--batch", "100000"],
        ["--eps", "0"], ["--eps", "nan"], ["--tol", "nan"], ["--seed", "-1"],
    ]],
    *[["summary", *v] for v in [
        [], ["--in", "5", "--out", "3"], ["--in", "0", "--out", "3"],
        ["--in", "5", "--out", "3", "--activation", "swish"],
        ["--in", "5", "--out", "3", "--hidden", "0"],
        ["--in", "5", "--out", "3", "--hidden", "100000,100000"],
        ["--in", "5", "--out", "3", "--batch-size", "0"],
        ["--in", "5", "--out", "3", "--batch-size", "1e12"],
        ["{w}/runs/good"], ["{w}/nowhere"], ["{w}/somedir"],
    ]],
    *[["schedule", *v, "--out", "{out}"] for v in [
        ["cosine"], ["bogus"], ["--steps-per-epoch", "0"], ["--steps-per-epoch", "2000000"],
        ["--epochs", "0"], ["--lr", "nan"], ["--warmup", "100"], ["--impl", "x"], [","],
        ["all", "--epochs", "1000000"], ["--out", "{w}/afile.txt"],
    ]],
    *[["predict", *v] for v in [
        ["{w}/runs/good", "--input", "{w}/points.csv"],
        ["{w}/runs/good", "--input", "{w}/nope.csv"],
        ["{w}/runs/good", "--input", "{w}/good.csv"],
        ["{w}/runs/good", "--input", "{w}/words.csv"],
        ["{w}/runs/good", "--input", "{w}/infs.csv"],
        ["{w}/runs/good", "--input", "{w}/mixed.csv"],
        ["{w}/runs/good", "--input", "{w}/empty.csv"],
        ["{w}/runs/good", "--input", "{w}/header_only.csv"],
        ["{w}/runs/good", "--input", "{w}/points.csv", "--output", "{out}/p.csv"],
        ["{w}/runs/good", "--input", "{w}/points.csv", "--output", "{w}/somedir"],
        ["{w}/runs/good", "--input", "{w}/points.csv", "--output", "{out}/no/such/p.csv"],
        ["{w}/nowhere", "--input", "{w}/points.csv"],
        ["{w}/somedir", "--input", "{w}/points.csv"],
        ["{w}/runs/cut_model", "--input", "{w}/points.csv"],
    ]],
    *[["runs", *v] for v in [
        ["{w}/runs"], ["{w}/nowhere"], ["{w}/afile.txt"], ["{w}/somedir"],
    ]],
    ["datasets"],
    ["--help"],
    ["nosuchcommand"],
    [],
]  # fmt: skip

# config files (TOML), each given to train as --config
TOML_FILES: dict[str, str] = {
    "wrong_type": 'lr = "fast"\n',
    "unknown_key": "lerning_rate = 0.1\n",
    "not_toml": "lr = [\n",
    "sections": "[model]\nhidden = [4]\n[optim]\nlr = 0.05\n",
    "nested": "[a]\n[a.b]\nlr = 0.1\n",
    "escape_name": 'name = "../../escaped"\n',
    "absolute_name": 'name = "/tmp/looplab-battery-abs"\n',
    "huge_int": "seed = 99999999999999999999\n",
    "huge_width": "hidden = [99999999999999999999]\n",
    "bool_for_int": "batch_size = true\n",
    "list_for_float": "lr = [0.1]\n",
    "hidden_zero": "hidden = [0]\n",
    "hidden_strings": 'hidden = ["a"]\n',
    "nan_lr": "lr = nan\n",
    "inf_noise": "noise = inf\n",
    "binary": "\x00\x01\x02",
    "table_value": "lr = {a = 1}\n",
    "date": "dropout = 1979-05-27\n",
    "float_for_list": "drop = 1.5\n",
    "negative_zero": "weight_decay = -0.0\nlr = -0.0\n",
}

# CSV contents, trained with --target y (the CSV reader is another engineer's: these are the
# shapes it already answers; its own rewrite adds more)
CSV_FILES: dict[str, str] = {
    "ok": "a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)),
    "no_target": "a,b\n1,2\n3,4\n",
    "one_row": "a,y\n1,0\n",
    "empty": "",
    "header_only": "a,y\n",
    "ragged": "a,b,y\n1,2\n3,4,5,6\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(30)),
    "missing_values": "a,b,y\n" + "".join(f"{'' if i % 5 == 0 else i},{i},{i % 2}\n"
                                          for i in range(40)),
    "huge_value": "a,b,y\n" + "".join(f"{'1e39' if i == 7 else i},{i},{i % 2}\n"
                                      for i in range(40)),
    "all_missing_target": "a,y\n1,\n2,\n",
    "quoted": 'a,"b, c",y\n' + "".join(f'{i},"{i}",{i % 2}\n' for i in range(40)),
    "dates": "day,y\n" + "".join(f"2024-01-{i + 1:02d},{i % 2}\n" for i in range(20)),
    "many_classes": "a,y\n" + "".join(f"{i},c{i}\n" for i in range(40)),
}  # fmt: skip

# run directories, damaged in one way each, then resumed, predicted, landscaped, listed
RUN_DAMAGE = ["status_garbage", "status_nested", "config_gone", "config_garbage",
              "checkpoints_gone", "checkpoints_empty", "model_gone", "history_garbage",
              "lock_dir", "status_running_dead"]  # fmt: skip
RUN_COMMANDS = [["train", "--resume", "{run}", "--epochs", "3"], ["runs", "{parent}"]]
RESUMED = [
    "status_nested",
    "config_gone",
    "checkpoints_gone",
    "checkpoints_empty",
    "lock_dir",
    "status_running_dead",
]  # the damages a resume must answer (the rest only list)
# the damages that matter to the commands that read a finished run
READERS = {
    ("predict", "{run}", "--input", "{w}/points.csv"): ["model_gone", "config_gone"],
    ("landscape", "{run}", "--resolution", "3", "--out", "{out}"): [
        "config_gone",
        "config_garbage",
    ],
}


def _cases() -> list[tuple[str, list[str]]]:
    cases: list[tuple[str, list[str]]] = []
    for field, values in FIELD_VALUES.items():
        flag = "--" + field.replace("_", "-")
        for value in values:
            cases.append((f"train {flag} {value[:20]!r}", ["train", *BASE, flag, value]))
    for flag in FLAGS:
        cases.append((f"train {flag}", ["train", *BASE, flag]))
    for args in COMMAND_CASES:
        cases.append((" ".join(a[:24] for a in args) or "(no args)", list(args)))
    for name in TOML_FILES:
        cases.append((f"train --config {name}", ["train", *BASE, "--config", f"{{w}}/{name}.toml"]))
    for name in CSV_FILES:
        args = ["train", "--epochs", "1", "--dataset", f"csv:{{w}}/{name}.csv", "--target", "y"]
        cases.append((f"train csv {name}", args))
    for damage in RUN_DAMAGE:
        for args in RUN_COMMANDS:
            if args[0] != "train" or damage in RESUMED:
                cases.append((f"{args[0]} on run {damage}", [*args, f"@{damage}"]))
    for reader, damages in READERS.items():
        for damage in damages:
            cases.append((f"{reader[0]} on run {damage}", [*reader, f"@{damage}"]))
    return cases


CASES = _cases()
TRAINING_FAILURES = ("diverged",)  # exit 2 after training started: a failed run dir is kept

# ---------------------------------------------------------------- fixtures


def _write_fixtures(w: Path) -> None:
    rows = "".join(f"{i},{'red' if i % 2 else 'blue'},{'cat' if i % 3 else 'dog'}\n"
                   for i in range(30))  # fmt: skip
    files = {
        "good.csv": "size,colour,label\n" + rows,
        "points.csv": "x1,x2\n0.5,0.25\n-1.0,0.75\n",
        "words.csv": "x1,x2\nabc,0.25\n",
        "infs.csv": "x1,x2\ninf,0.5\n",
        "mixed.csv": "x1,x2\n0.5,0.25\ninf,1\n,\n-1,\n",
        "empty.csv": "",
        "header_only.csv": "x1,x2\n",
        "afile.txt": "not a directory\n",
    }
    for name, text in files.items():
        (w / name).write_text(text)
    for name, text in TOML_FILES.items():
        (w / f"{name}.toml").write_text(text)
    for name, text in CSV_FILES.items():
        (w / f"{name}.csv").write_text(text)
    (w / "somedir").mkdir()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixtures every case reads and none may change: files, a finished run, a finished
    sweep, runs without or with a damaged path.pt, a truncated model."""
    w = tmp_path_factory.mktemp("battery")
    _write_fixtures(w)
    runs = w / "runs"
    args = ["--epochs", "2", "--n", "100", "--out", str(runs), "--device", "cpu"]
    assert run(["train", *args, "--name", "good", "--checkpoint-steps", "3"]) == 0
    sweep = ["sweep", "--vary", "lr=0.01,0.1", "--epochs", "1", "--n", "60"]
    assert run([*sweep, "--out", str(runs), "--name", "sweep"]) == 0
    for name in ("nopath", "badpath", "cut_model"):
        shutil.copytree(runs / "good", runs / name)
    (runs / "nopath" / "path.pt").unlink()
    (runs / "badpath" / "path.pt").write_bytes(b"not a torch file")
    model = runs / "cut_model" / "model.pt"
    model.write_bytes(model.read_bytes()[:300])
    return w


def damaged_run(shared: Path, where: Path, damage: str) -> Path:
    """A copy of runs/good, damaged one way, under ``where/runs/``."""
    run_dir = where / "runs" / "r"
    shutil.copytree(shared / "runs" / "good", run_dir)
    status, ckpts = run_dir / "status.json", run_dir / "checkpoints"
    match damage:
        case "status_garbage":
            status.write_text("{not json")
        case "status_nested":
            status.write_text("[" * 50_000 + "]" * 50_000)
        case "config_gone":
            (run_dir / "config.toml").unlink()
        case "config_garbage":
            (run_dir / "config.toml").write_text("epochs = [")
        case "checkpoints_gone":
            shutil.rmtree(ckpts)
        case "checkpoints_empty":
            for p in ckpts.iterdir():
                p.unlink()
        case "model_gone":
            (run_dir / "model.pt").unlink()
        case "history_garbage":
            (run_dir / "history.csv").write_text("\x00\x01,,\n")
        case "lock_dir":  # a directory where the lock file goes
            (run_dir / ".lock").unlink(missing_ok=True)
            (run_dir / ".lock").mkdir()
        case "status_running_dead":
            status.write_text(json.dumps({"status": "running", "pid": 2**22 + 7, "host": "x"}))
    return run_dir


def fingerprint(root: Path) -> dict[str, tuple[int, int, str]]:
    """Size, last change and (up to 64 KiB) SHA-256 of every path under ``root``."""
    prints = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        small = path.is_file() and st.st_size <= 65536
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if small else ""
        prints[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, digest)
    return prints


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory per case, torch's thread count put back after it."""
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    yield tmp_path
    torch.set_num_threads(threads)


def _log(case: str, code: int) -> None:
    log = os.environ.get("LOOPLAB_BATTERY_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"case": case, "exit": code}) + "\n")


def check_outcome(case: str, code: int, err: str, allowed: tuple[int, ...] = (0, 2)) -> None:
    """Exit 0, or 2 with its ``error:`` line last; or a signal's code; never a traceback."""
    assert "Traceback" not in err, err[-3000:]
    assert code in allowed, (case, code, err[-2000:])
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    if code == 2:
        assert len(errors) == 1 and lines[-1] == errors[0], err[-2000:]
        assert len(errors[0]) < 1000, errors[0][:300]  # one readable line, whatever the input
    else:
        assert not errors, err[-2000:]
    _log(case, code)


# ---------------------------------------------------------------- the cases


@pytest.mark.parametrize(("case", "argv"), CASES, ids=[c for c, _ in CASES])
def test_case(
    case: str,
    argv: list[str],
    shared: Path,
    isolated: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = isolated / "out"
    allowed_roots = [out]
    args = list(argv)
    if args and args[-1].startswith("@"):  # a damaged run, copied under this case's folder
        run_dir = damaged_run(shared, isolated, args.pop()[1:])
        allowed_roots.append(run_dir.parent)
        args = [a.replace("{run}", str(run_dir)).replace("{parent}", str(run_dir.parent))
                for a in args]  # fmt: skip
    args = [a.replace("{w}", str(shared)).replace("{out}", str(out)) for a in args]
    if args and args[0] in ("train", "lr-find", "compare", "regularize") and "--out" not in args:
        args += ["--out", str(out)]  # (a case that gives --out itself tests it)
    before_shared, before_here = fingerprint(shared), fingerprint(isolated)
    code = run(args)
    err = capsys.readouterr().err
    check_outcome(case, code, err)
    assert fingerprint(shared) == before_shared, "a command changed the shared fixtures"
    after_here = fingerprint(isolated)
    changed = [k for k in set(before_here) | set(after_here)
               if before_here.get(k) != after_here.get(k)]  # fmt: skip
    roots = [str(r.relative_to(isolated)) for r in allowed_roots]
    outside = [k for k in changed if not any(k == r or k.startswith(r + "/") for r in roots)]
    assert not outside, f"written outside --out: {outside[:5]}"
    if code == 2 and not any(word in err for word in TRAINING_FAILURES):
        assert not changed, f"a refused command wrote {sorted(changed)[:5]}"
    assert not Path("/tmp/looplab-battery-abs").exists()


# ---------------------------------------------------------------- signals, in-process

SIGNAL_CASES = [
    ("train", ["train", "--n", "1000", "--epochs", "30", "--checkpoint-every", "1"]),
    ("sweep", ["sweep", "--vary", "lr=0.001,0.01,0.1", "--seeds", "2", "--epochs", "5",
               "--n", "400"]),
    ("compare", ["compare", "--seeds", "2", "--epochs", "5", "--batch-sizes", "4,16,full"]),
    ("lr-find", ["lr-find", "--steps", "20000", "--end-lr", "0.001"]),
    ("regularize", ["regularize", "--epochs", "15"]),
]  # fmt: skip


@contextlib.contextmanager
def signal_after(seconds: float, signum: int) -> Iterator[None]:
    """Send ``signum`` to this process after ``seconds`` (as Ctrl-C or a kill would), with
    the console script's handlers in place for the commands that do not install their own."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, looplab.cli._terminate)
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signum))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        for s, handler in previous.items():
            signal.signal(s, handler)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize(("name", "argv"), SIGNAL_CASES, ids=[n for n, _ in SIGNAL_CASES])
def test_signal_case(
    name: str, argv: list[str], signum: int, isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = isolated / "out"
    delay = 0.6 + 0.15 * (len(name) % 5) + (0.4 if signum == signal.SIGTERM else 0.0)
    with signal_after(delay, signum):
        code = run([*argv, "--out", str(out)])
    err = capsys.readouterr().err
    check_outcome(f"{name} {signal.Signals(signum).name}", code, err, (0, 128 + signum))
    if code == 0:
        return
    assert f"interrupted ({signal.Signals(signum).name})" in err
    folder = next((p for p in out.iterdir() if p.is_dir()), None) if out.exists() else None
    if "had finished: it is complete" in err:  # the signal came while the results were written
        return
    if folder is not None and name == "sweep":  # the finished runs are there, and resume ends it
        kept = len(list((folder / "points").glob("*.json")))
        assert f"{kept} of 6 runs finished" in err
        assert run(["sweep", "--resume", str(folder)]) == 0
        assert (folder / "runs.csv").read_text().count("\n") == 7
    if folder is not None and name == "regularize":
        saved = (folder / "results.csv").read_text().count("\n") - 1 if (
            folder / "results.csv").exists() else 0  # fmt: skip
        assert f"{saved} of 7 remedies finished" in err
    if folder is not None and name == "train":
        assert run(["train", "--resume", str(folder)]) == 0


# ---------------------------------------------------------------- a full disk, read-only


DISK_CASES = [
    ["train", "--epochs", "2", "--hidden", "64,64", "--checkpoint-steps", "1",
     "--keep-checkpoints", "100", "--out", "{disk}"],
    ["sweep", "--vary", "lr=0.01,0.1", "--epochs", "1", "--n", "60", "--save-runs",
     "--out", "{disk}"],
    ["compare", "--epochs", "2", "--out", "{disk}"],
    ["lr-find", "--steps", "20", "--out", "{disk}"],
    ["regularize", "--epochs", "1", "--hidden", "4", "--out", "{disk}"],
    ["schedule", "all", "--out", "{disk}"],
    ["landscape", "--linear", "--epochs", "2", "--out", "{disk}"],
    ["predict", "{w}/runs/good", "--input", "{w}/points.csv", "--output", "{disk}/p.csv"],
]  # fmt: skip


@pytest.mark.parametrize("mode", ["full", "read-only"])
@pytest.mark.parametrize("argv", DISK_CASES, ids=[a[0] for a in DISK_CASES])
def test_disk_case(
    argv: list[str],
    mode: str,
    shared: Path,
    tmpfs: Any,
    isolated: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.conftest import remount

    disk = tmpfs("1m")
    if mode == "full":
        with open(disk / "filler", "wb") as f, contextlib.suppress(OSError):
            f.write(b"\0" * (1024 * 1024 - 40 * 1024))  # leave about 40 KiB
    else:
        remount(disk, "ro")
    args = [a.replace("{disk}", str(disk)).replace("{w}", str(shared)) for a in argv]
    code = run(args)
    err = capsys.readouterr().err
    check_outcome(f"{argv[0]} on a {mode} disk", code, err)
    if code == 2 and mode == "read-only":
        assert "read-only" in err.lower(), err[-500:]


# ---------------------------------------------------------------- concurrent runs


def test_a_second_process_cannot_train_into_a_running_run_or_sweep(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A training run and a sweep in two other processes (started together: one torch import's
    wait); resuming either from here is refused in one line naming the process."""
    out = isolated / "out"
    code = "from looplab.cli import main; main()"
    train = ["train", "--n", "2000", "--epochs", "200", "--out", str(out), "--name", "r",
             "--checkpoint-every", "1"]  # fmt: skip
    sweep = ["sweep", "--vary", "lr=0.001,0.01,0.1", "--seeds", "3", "--epochs", "30",
             "--out", str(out), "--name", "s"]  # fmt: skip
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    children = [subprocess.Popen([sys.executable, "-c", code, *args], **quiet)  # type: ignore[call-overload]
                for args in (train, sweep)]  # fmt: skip
    try:
        deadline = time.time() + 180
        while not (any((out / "r" / "checkpoints").glob("ckpt-*.pt"))
                   and (out / "s" / "status.json").exists()):  # fmt: skip
            assert time.time() < deadline, "the other processes never started"
            assert all(c.poll() is None for c in children), "another process ended"
            time.sleep(0.05)
        for argv, child in (
            (["train", "--resume", str(out / "r")], children[0]),
            (["train", "--resume", str(out / "r"), "--epochs", "300"], children[0]),
            (["sweep", "--resume", str(out / "s")], children[1]),
        ):
            assert run(argv) == 2
            err = capsys.readouterr().err
            check_outcome(f"{argv[0]} --resume while another process runs it", 2, err)
            assert f"is being trained by another process (pid {child.pid})" in err
    finally:
        children[0].send_signal(signal.SIGINT)
        children[1].send_signal(signal.SIGTERM)
        assert children[0].wait(timeout=60) == 130
        assert children[1].wait(timeout=60) == 143
