"""What a check says: where the answer differs, the learner's own frames, time limits, and the
Exercism-shaped record."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from looplab.lessons.catalogue import exercise
from looplab.lessons.checking import OUTPUT_LIMIT, difference
from looplab.lessons.runner import check_file, run_check  # the time limit: tests/cli

HEADER = "import torch\n\n\n"


def _file(tmp_path: Path, body: str, name: str = "ex_1_2_2.py") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_a_failure_names_the_function_the_shapes_and_where_the_largest_difference_is(
    tmp_path: Path,
) -> None:
    # dL/db is right; dL/dw is wrong in its last entry only, by 1
    body = (
        "def mse_grad(X, y, w, b):\n"
        "    r = X @ w + b - y\n"
        "    dw = 2 / len(X) * (X.T @ r)\n"
        "    dw[-1] += 1.0\n"
        "    return dw, 2 / len(X) * r.sum()\n"
    )
    result = check_file(exercise("1.2.2"), _file(tmp_path, body))
    assert result.status == "fail"
    first = result.failed[0]
    assert first.name == "N=5, d=1"
    assert first.message.startswith("mse_grad(X (5, 1), y (5,), w (1,), b=scalar): dL/dw:")
    assert "largest absolute difference 1 at [0]" in first.message
    assert "(oracle: autograd on torch.nn.functional.mse_loss)" in first.message
    wide = next(t for t in result.failed if t.name == "N=32, d=3")
    assert "largest absolute difference 1 at [2]" in wide.message
    assert result.hint == ""  # no known mistake adds 1 to one entry


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    data=st.data(),
    delta=st.floats(0.5, 100.0),
)
def test_difference_reports_the_index_of_the_largest_error(
    shape: list[int], data: st.DataObject, delta: float
) -> None:
    expected = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    flat = data.draw(st.integers(0, expected.numel() - 1))
    got = expected.clone()
    got.reshape(-1)[flat] += delta
    index = list(torch.unravel_index(torch.tensor(flat), tuple(shape)))
    message = difference({"g": got}, {"g": expected}, rtol=1e-4, atol=1e-5)
    assert message is not None
    where = "[" + ", ".join(str(int(i)) for i in index) + "]"
    assert f"at {where}" in message
    shown = float(re.search(r"largest absolute difference (\S+) at", message).group(1))  # type: ignore[union-attr]
    assert abs(shown - delta) <= 5e-3 * delta  # printed to 3 significant digits
    assert difference({"g": expected.clone()}, {"g": expected}, 1e-4, 1e-5) is None


def test_an_exception_shows_the_learners_frames_only(tmp_path: Path) -> None:
    body = (
        "def helper(r):\n"
        "    return r / undefined_name\n"
        "\n"
        "def mse_grad(X, y, w, b):\n"
        "    return helper(X @ w + b - y), 0\n"
    )
    path = _file(tmp_path, body)
    result = check_file(exercise("1.2.2"), path)
    assert result.status == "fail"
    message = result.failed[0].message
    assert result.failed[0].status == "error"
    assert "NameError: name 'undefined_name' is not defined" in message
    assert message.count(f'File "{path.resolve()}"') == 2  # mse_grad and helper
    assert "looplab" not in message.replace(str(path.resolve()), "")  # none of the checker's frames


def test_an_exception_deep_in_torch_keeps_only_the_learners_line(tmp_path: Path) -> None:
    body = "def mse_grad(X, y, w, b):\n    return torch.mm(X, y), 0\n"
    path = _file(tmp_path, body)
    message = check_file(exercise("1.2.2"), path).failed[0].message
    assert message.count('File "') == 1
    assert "return torch.mm(X, y), 0" in message


def test_a_syntax_error_or_a_missing_function_is_an_error_with_its_line(tmp_path: Path) -> None:
    ex = exercise("1.2.1")
    broken = check_file(ex, _file(tmp_path, "def mse_loss(pred, target)\n    return 0\n", "a.py"))
    assert broken.status == "error"
    assert re.search(r"a\.py, line 4: ", broken.message)
    renamed = check_file(ex, _file(tmp_path, "def mse(pred, target):\n    return 0\n", "b.py"))
    assert renamed.status == "error"
    assert "defines no function mse_loss" in renamed.message


def test_the_subprocess_brings_back_the_same_record(tmp_path: Path) -> None:
    body = (
        "def mse_loss(pred, target):\n"
        "    print('x' * 2000)\n"
        "    return ((pred - target) ** 2).sum()\n"
    )
    path = _file(tmp_path, body, "ex_1_2_1.py")
    result = run_check("1.2.1", path)
    assert result == check_file(exercise("1.2.1"), path)
    record = result.to_json()
    assert record["status"] == "fail"
    assert "message" not in record  # only an error has a top-level message
    assert [t["status"] for t in record["tests"]] == ["fail", "fail", "pass", "fail"]
    assert all(len(t["output"]) == OUTPUT_LIMIT for t in record["tests"])
    assert record["tests"][2]["message"] is None
    json.dumps(record)
