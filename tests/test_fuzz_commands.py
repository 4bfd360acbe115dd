"""Fuzzing every command's flags (tests/test_fuzz.py fuzzes train's config files, CSVs and
flags in depth): whatever hypothesis puts together, a command exits 0, or 2 with one
``error:`` line, never with a traceback, and writes only under its ``--out``.

Each command gets a few examples (5; about 20 s for all on a quiet 2-core machine); sizes that
would make a run long are pinned after the fuzzed flags (the last of a repeated flag wins). CI
replays the same examples every time (the ``ci`` profile in conftest derandomizes).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from looplab.cli import run
from looplab.config import field_names

FUZZ = settings(
    max_examples=5,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TOKENS = ["0", "1", "-1", "2", "7", "64", "0.5", "-0", "1e-300", "1e39", "nan", "inf", "-inf",
          "x", "", "full", "relu", "none", ",", "16,,16", "a/b", "../x", "1,2", "9" * 25,
          "tanh", "cosine", "moons", "linear", "mse"]  # fmt: skip
VALUES = st.sampled_from(TOKENS)
CONFIG_FLAGS = ["--" + n.replace("_", "-") for n in field_names() if n not in ("out", "device")]

# each command: its own flags (fuzzed), and what keeps it small (appended last)
COMMANDS: dict[str, tuple[list[str], list[str]]] = {
    "train": (CONFIG_FLAGS, ["--epochs", "1", "--n", "60", "--device", "cpu"]),
    "sweep": (["--seeds", "--target-metric", "--lr", "--hidden", "--batch-size", "--norm"],
              ["--epochs", "1", "--n", "60", "--jobs", "1"]),
    "compare": (["--batch-sizes", "--lr", "--optimizer", "--model", "--dataset", "--norm"],
                ["--epochs", "1", "--seeds", "1", "--n", "60"]),
    "lr-find": (["--start-lr", "--end-lr", "--batch-size", "--optimizer", "--norm"],
                ["--steps", "10", "--n", "60"]),
    "regularize": (["--lr", "--dropout", "--batch-size", "--norm", "--optimizer"],
                   ["--epochs", "1", "--hidden", "4"]),
    "landscape": (["--span", "--seed", "--rows", "--batch-sizes", "--lr", "--dataset"],
                  ["--resolution", "3", "--epochs", "1"]),
    "gradcheck": (["--hidden", "--activation", "--loss", "--inputs", "--classes", "--batch",
                   "--eps", "--tol", "--seed"], []),
    "summary": (["--in", "--out", "--hidden", "--activation", "--batch-size"], []),
    "schedule": (["--epochs", "--lr", "--warmup", "--steps-per-epoch", "--impl"], []),
    "predict": (["--input", "--output"], []),
    "runs": ([], []),
}  # fmt: skip


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz_commands")
    assert run(["train", "--epochs", "1", "--n", "60", "--out", str(root), "--name", "m"]) == 0
    (root / "points.csv").write_text("x1,x2\n0.5,0.2\ninf,1\n")
    (root / "bad.csv").write_text("x1\nabc\n")
    return root


def argv_for(command: str, data: st.DataObject, root: Path, out: Path) -> list[str]:
    draw = data.draw
    flags, pinned = COMMANDS[command]
    args = [command]
    if command == "sweep":
        field = draw(st.sampled_from(["lr", "batch_size", "hidden", "activation", "bogus", ""]))
        args += ["--vary", f"{field}={draw(VALUES)},{draw(VALUES)}"]
    if command == "landscape":
        args += [draw(st.sampled_from([str(root / "m"), "--linear", str(root), "nowhere"]))]
    if command == "schedule":
        args += [draw(st.sampled_from(["cosine", "all", "bogus", "one_cycle,step", ","]))]
    if command == "predict":
        args += [draw(st.sampled_from([str(root / "m"), str(root), "nowhere"]))]
        args += [
            "--input",
            draw(st.sampled_from([str(root / f) for f in ("points.csv", "bad.csv", "none.csv")])),
        ]
    if command == "runs":
        args += [draw(st.sampled_from([str(root), str(root / "m"), "nowhere"]))]
    for flag in draw(st.lists(st.sampled_from(flags), max_size=3)) if flags else []:
        if flag == "--output":
            args += [flag, str(out / draw(st.sampled_from(["p.csv", "a/b.csv", ""])))]
        else:
            args += [flag, draw(VALUES)]
    args += pinned
    if command in ("train", "sweep", "compare", "lr-find", "regularize", "landscape",
                   "schedule"):  # fmt: skip
        args += ["--out", str(out)]
    return args


@pytest.mark.parametrize("command", list(COMMANDS))
@FUZZ
@given(data=st.data())
def test_fuzzed_flags_of_every_command(
    command: str, data: st.DataObject, fixtures: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    here = tmp_path_factory.mktemp("case")
    out = here / "out"
    args = argv_for(command, data, fixtures, out)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = run(args)
    text = err.getvalue()
    assert "Traceback" not in text, (args, text[-2000:])
    assert code in (0, 2), (args, code, text[-2000:])
    lines = [line for line in text.splitlines() if line.strip()]
    if code == 2:
        assert lines and lines[-1].startswith("error: "), (args, text[-2000:])
        assert sum(line.startswith("error:") for line in lines) == 1, (args, text)
    written = [p for p in here.rglob("*") if p != out and out not in p.parents]
    assert not written, (args, written)
