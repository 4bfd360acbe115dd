"""`looplab lessons`, `lesson`, `exercise` and `check` end to end, in a temporary directory."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

from looplab.cli import run
from looplab.lessons.catalogue import CATALOGUE, exercise
from looplab.lessons.progress import Progress, progress_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check in this process instead of a fresh one (the subprocess and its time limit have
    their own tests below): each subprocess costs a torch import."""
    from looplab.lessons import runner

    def check_here(exercise_id: str, path: Path, timeout: float = 10.0) -> object:
        return runner.check_file(exercise(exercise_id), path)

    monkeypatch.setattr(runner, "run_check", check_here)


def _solve(path: Path, body: str) -> None:
    """Replace the starter's `raise NotImplementedError(...)` line with ``body``."""
    text = path.read_text()
    path.write_text(re.sub(r"    raise NotImplementedError\(.*\)", body, text))


def test_lessons_lists_all_22_with_the_coming_ones_marked(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["lessons"]) == 0
    out = capsys.readouterr().out
    for row in CATALOGUE:
        line = next(line for line in out.splitlines() if f" {row.id} " in line)
        assert row.title in line
        if row.written:
            assert re.search(r"0 / \d", line), line
        else:
            assert "coming" in line
    assert "Module 1: the elementary loop" in out


def test_an_unwritten_lesson_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # lesson 3.1 as if its module were not there yet (every lesson gets written in the end)
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "looplab.lessons.lesson_3_1" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert run(["lesson", "3.1"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: lesson 3.1 (Optimizers beyond SGD) is coming: it is not written yet; "
        "`looplab lessons` shows the ones you can run\n"
    )
    assert run(["lesson", "9.9"]) == 2
    assert capsys.readouterr().err.startswith("error: no lesson '9.9'; the lessons are 1.1, 1.2")


def test_a_lesson_prints_its_text_runs_its_demos_and_writes_its_figures(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["lesson", "1.5", "--fast", "--out", str(here / "figs")]) == 0
    out = capsys.readouterr().out
    assert "Lesson 1.5: Numerical vs analytical gradients" in out
    assert r"\frac{L(\theta + \varepsilon e_i)" in out  # the equations
    assert "What to look at" in out
    shown = float(re.search(r"best error, central\s+│\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    assert shown < 1e-9
    assert (here / "figs" / "error_vs_eps.png").read_bytes()[:4] == b"\x89PNG"
    assert "looplab exercise 1.5.1" in out


def test_lesson_code_prints_the_demos_source(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["lesson", "1.1", "--code"]) == 0
    out = capsys.readouterr().out
    assert "def the_five_lines(fast: bool = False" in out
    assert "optimizer.zero_grad()  # 3." in out
    assert "from looplab import loop" in out
    assert not (here / "lessons").exists()  # printing the code runs nothing


def test_lesson_notebook_writes_a_notebook(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["lesson", "1.2", "--notebook", "--fast"]) == 0
    path = here / "lessons" / "1.2" / "lesson_1_2.ipynb"
    nb = json.loads(path.read_text())
    assert nb["nbformat"] == 4
    assert any('check("1.2.1", mse_loss)' in "".join(c["source"]) for c in nb["cells"])


def test_exercise_writes_the_starter_and_never_overwrites_it(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["exercise", "1.2.1"]) == 0
    path = here / "exercises" / "ex_1_2_1.py"
    text = path.read_text()
    assert "def mse_loss(pred: Tensor, target: Tensor) -> Tensor:" in text
    assert ">>> mse_loss(" in text  # the worked example
    assert 'raise NotImplementedError("write mse_loss' in text
    path.write_text(text + "\n# my work\n")
    capsys.readouterr()
    assert run(["exercise", "1.2.1"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: exercises/ex_1_2_1.py exists and is kept") and err.count("\n") == 1
    )
    assert path.read_text().endswith("# my work\n")
    assert run(["exercise", "1.2"]) == 2
    assert "not an exercise id" in capsys.readouterr().err


def test_check_fails_names_the_mistake_and_gives_ordered_hints(
    here: Path, in_process: None, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["exercise", "1.2.2"])
    path = here / "exercises" / "ex_1_2_2.py"
    # not a known mistake: the ordered hints are all the help there is
    _solve(path, "    r = X @ w + b - y\n    return 2 / len(X) * (X.T @ r), r.mean()")
    capsys.readouterr()
    assert run(["check", "1.2.2"]) == 1
    out = capsys.readouterr().out
    assert "fail: 1.2.2 mse_grad:" in out
    assert "mse_grad(X (5, 1), y (5,), w (1,), b=scalar): dL/db: you have" in out
    assert f"hint 1 of 3: {exercise('1.2.2').hints[0]}" in out
    assert run(["check", "1.2.2", "--hint"]) == 1
    assert f"hint 2 of 3: {exercise('1.2.2').hints[1]}" in capsys.readouterr().out
    assert Progress.load().hints == {"1.2.2": 2}
    assert run(["check", "1.2.2"]) == 1  # without --hint: the most specific one shown so far
    assert "hint 2 of 3" in capsys.readouterr().out
    run(["check", "1.2.2", "--hint"])
    assert "hint 3 of 3 (the last one)" in capsys.readouterr().out
    # a sign error is recognized and named
    path.unlink()
    run(["exercise", "1.2.2"])
    _solve(path, "    r = y - (X @ w + b)\n    return 2 / len(X) * (X.T @ r), 2 / len(X) * r.sum()")
    run(["check", "1.2.2"])
    assert "hint: the sign is flipped" in capsys.readouterr().out


def test_check_passes_keeps_progress_and_then_offers_the_solution(
    here: Path, in_process: None, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["exercise", "1.1.1"])
    capsys.readouterr()
    assert run(["check", "1.1.1", "--solution"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: exercise 1.1.1 has not passed yet") and err.count("\n") == 1
    _solve(here / "exercises" / "ex_1_1_1.py", "    return param - lr * grad")
    assert run(["check", "1.1.1"]) == 0
    assert "pass: 1.1.1 sgd_step passes all 3 tests" in capsys.readouterr().out
    assert Progress.load().has_passed("1.1.1")
    assert json.loads(progress_file().read_text())["passed"].keys() == {"1.1.1"}
    assert run(["check", "1.1.1", "--solution"]) == 0
    assert (
        "def sgd_step(param: Tensor, grad: Tensor, lr: float) -> Tensor:" in capsys.readouterr().out
    )
    run(["lessons"])
    line = next(line for line in capsys.readouterr().out.splitlines() if " 1.1 " in line)
    assert "1 / 2" in line


def test_check_json_writes_an_exercism_record(
    here: Path, in_process: None, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["exercise", "1.2.1"])
    capsys.readouterr()
    assert run(["check", "1.2.1", "--json"]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "fail"
    assert {t["status"] for t in record["tests"]} == {"fail"}
    assert set(record["tests"][0]) == {"name", "status", "message", "output"}


def test_check_a_missing_file_or_a_bad_timeout_is_one_line(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["check", "1.2.1"]) == 2
    assert capsys.readouterr().err == (
        "error: exercises/ex_1_2_1.py does not exist; write it with `looplab exercise 1.2.1`\n"
    )
    run(["exercise", "1.2.1"])
    assert run(["check", "1.2.1", "--timeout", "0"]) == 2


def test_check_stops_a_loop_that_never_ends(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(["exercise", "1.2.1"])
    _solve(here / "exercises" / "ex_1_2_1.py", "    while True:\n        pass")
    capsys.readouterr()
    assert run(["check", "1.2.1", "--timeout", "1"]) == 1
    assert "timed out after 1 s: mse_loss" in capsys.readouterr().out


def test_check_watch_rechecks_on_save(here: Path) -> None:
    """Start `looplab check --watch`, read one cycle (a failure), save a solution, read the next
    cycle (a pass), then interrupt it."""
    run(["exercise", "1.1.1"])
    path = here / "exercises" / "ex_1_1_1.py"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    command = [
        sys.executable,
        "-c",
        "from looplab.cli import main; main()",
        "check",
        "1.1.1",
        "--watch",
    ]
    proc = subprocess.Popen(
        command, cwd=here, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def read() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()

    def wait_for(words: str, seconds: float = 180) -> list[str]:  # generous: busy machines
        seen, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
            if words in seen[-1]:
                return seen
        raise AssertionError(f"no {words!r} within {seconds} s; saw {seen}")

    try:
        wait_for("fail: 1.1.1 sgd_step")
        time.sleep(0.5)  # the watcher is up
        _solve(path, "    return param - lr * grad")
        cycle = wait_for("pass: 1.1.1 sgd_step")
        assert any("changed: checking again" in line for line in cycle)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert Progress.load().has_passed("1.1.1")


def test_the_readmes_learn_commands_work_in_a_fresh_directory(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Learn", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^uv run looplab (.+?)(?:\s+#.*)?$", section, flags=re.M)
    assert commands == ["lessons", "lesson 1.1", "exercise 1.2.1", "check 1.2.1"]
    codes = [run(c.split()) for c in commands]
    assert codes == [0, 0, 0, 1]  # the check fails until the body is written
    assert "mse_loss is not written yet" in capsys.readouterr().out


def test_lesson_2_2_shows_the_right_softmax_beside_the_courses(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["lesson", "2.2", "--fast", "--out", str(here / "figs")]) == 0
    out = capsys.readouterr().out
    exps = [math.exp(2.0), math.exp(-1.0), math.exp(0.5)]
    for k, course in enumerate(("0.71", "0.04", "0.25")):
        shown = re.search(rf"softmax p{k}\s+│\s+(\S+)\s+│([^│]+)", out)
        assert shown is not None
        assert float(shown.group(1)) == pytest.approx(exps[k] / sum(exps), rel=1e-3)
        assert f"the course says {course}" in shown.group(2)
    assert (here / "figs" / "log_sum_exp.png").read_bytes()[:4] == b"\x89PNG"


def test_check_names_the_overflow_of_an_unstable_cross_entropy(
    here: Path, in_process: None, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["exercise", "2.2.1"])
    _solve(
        here / "exercises" / "ex_2_2_1.py",
        "    p = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)\n"
        "    return -torch.log(p[torch.arange(len(logits)), targets]).mean()",
    )
    capsys.readouterr()
    assert run(["check", "2.2.1"]) == 1
    out = capsys.readouterr().out
    # the case of logits near 100 fails first (the small ones pass)
    assert "cross_entropy(logits (8, 5), targets (8,)): result: you have nan" in out
    assert "hint: exp of a large logit overflows to inf" in out
