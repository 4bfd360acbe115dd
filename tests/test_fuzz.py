"""Fuzzing the user's inputs: config files, CSV content and command-line flags.

Whatever hypothesis makes up, `looplab train` either trains (exit 0) or says what is wrong in
one `error:` line with exit code 2 and no traceback; and no run directory claims to be complete
unless its final checkpoint, history, model and report are all there.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from looplab.cli import run
from looplab.config import field_names
from looplab.loop.history import History
from looplab.run.directory import read_status
from looplab.watch.checkpoint import CHECKPOINT_DIR, latest_good

FUZZ = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Keep every run tiny, whatever the fuzzed input says.
SMALL = ["--epochs", "1", "--device", "cpu"]


def train_in(out: Path, args: list[str]) -> tuple[int, str]:
    """Run `looplab train ARGS --out OUT` in-process; return the exit code and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = run(["train", *args, *SMALL, "--out", str(out)])
    return code, err.getvalue()


def check_outcome(code: int, err: str, out: Path) -> None:
    assert "Traceback" not in err, err
    assert code in (0, 2), err
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and lines[-1].startswith("error: "), err
    for run_dir in out.iterdir() if out.exists() else []:
        if read_status(run_dir)["status"] != "complete":
            continue
        assert code == 0, f"{run_dir.name} claims to be complete after exit {code}: {err}"
        for name in ("config.toml", "history.csv", "model.pt", "report.html"):
            assert (run_dir / name).stat().st_size > 0, name
        final = latest_good(run_dir / CHECKPOINT_DIR, set_aside=False).payload
        assert final["finished"]
        assert len(History.from_csv(run_dir / "history.csv")) == len(final["history"]["rows"])


# --- config files ------------------------------------------------------------------------
CHOICES = ["moons", "iris", "relu", "tanh", "sgd", "adam", "mlp", "linear", "full", "none",
           "cosine", "stop", "rollback", "", "x", "16,16"]  # fmt: skip
VALUES = st.one_of(
    st.integers(-3, 40),
    st.floats(-2, 2, allow_nan=False),
    st.booleans(),
    st.sampled_from(CHOICES),
    st.lists(st.integers(-2, 12), max_size=3),
)
KEYS = st.sampled_from(
    [n for n in field_names() if n not in ("out", "name", "epochs", "device", "n", "tensorboard")]
    + ["lerning_rate", "[model]"]
)


def toml_value(value: object) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


@FUZZ
@given(
    pairs=st.dictionaries(KEYS, VALUES, max_size=4),
    garbage=st.sampled_from(["", "", "", "epochs = [\n", "= 3\n", "\x00"]),
)
def test_fuzzed_config_files(pairs: dict[str, object], garbage: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lines = [f"{k} = {toml_value(v)}" for k, v in pairs.items() if not k.startswith("[")]
        (root / "c.toml").write_text("\n".join(lines) + "\n" + garbage)
        code, err = train_in(root / "runs", ["--config", str(root / "c.toml"), "--n", "60"])
        check_outcome(code, err, root / "runs")


# --- CSV content -------------------------------------------------------------------------
CELLS = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(-10, 10, allow_nan=False).map(lambda x: f"{x:.3g}"),
    st.sampled_from(["", "a", "b", "NaN", "inf", "2024-01-02", "x y", '"q"', "1e400"]),
)


NUMBER = st.integers(-5, 5).map(str)
WELL_FORMED = st.tuples(NUMBER, st.sampled_from(["a", "b", "c", ""]), NUMBER).map(list)


@FUZZ
@given(
    header=st.one_of(
        st.just(["x", "z", "y"]),
        st.lists(st.sampled_from(["x", "y", "z", "label", ""]), min_size=1, max_size=4),
    ),
    rows=st.lists(st.one_of(WELL_FORMED, st.lists(CELLS, min_size=1, max_size=5)), max_size=40),
    target=st.sampled_from(["y", "y", "z", "label", "missing"]),
)
@example(  # one that trains, so the complete-run check always runs on a CSV run too
    header=["x", "z", "y"],
    rows=[[str(i % 5), "ab"[i % 2], str(i % 3 % 2)] for i in range(40)],
    target="y",
)
def test_fuzzed_csv_content(header: list[str], rows: list[list[str]], target: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
        (root / "d.csv").write_text(text)
        args = ["--dataset", f"csv:{root / 'd.csv'}", "--target", target, "--batch-size", "4"]
        code, err = train_in(root / "runs", args)
        check_outcome(code, err, root / "runs")


# --- command-line flags ------------------------------------------------------------------
FLAGS = st.sampled_from(
    [
        "--" + n.replace("_", "-")
        for n in field_names()
        if n not in ("out", "name", "epochs", "device", "n", "tensorboard")
    ]
    + ["--lerning-rate", "--resume", "-x"]
)
ARG_VALUES = st.one_of(st.sampled_from(CHOICES), st.integers(-3, 40).map(str), st.just("0.5"))


@FUZZ
@given(flags=st.lists(st.tuples(FLAGS, ARG_VALUES), max_size=3))
def test_fuzzed_command_line(flags: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        args = [part for flag, value in flags for part in (flag, value)]
        code, err = train_in(root / "runs", [*args, "--n", "60"])
        check_outcome(code, err, root / "runs")
