"""`looplab summary` (the course's layer table) and `looplab datasets`."""

from __future__ import annotations

from pathlib import Path

import pytest

from looplab.cli import run
from looplab.inspect.summary import summarize
from looplab.models import ModelSpec, build_model


def test_summary_table_has_the_course_shapes(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["summary", "--in", "5", "--hidden", "10,6", "--out", "3", "--batch-size", "4"])
    out = capsys.readouterr().out
    assert code == 0
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 5}
    cells = {k: [c.strip() for c in v.split("│")[1:-1]] for k, v in lines.items()}
    assert cells["fc1"] == ["fc1", "(4, 5)", "(10, 5)", "(4, 10)", "60", "relu"]
    assert cells["fc2"] == ["fc2", "(4, 10)", "(6, 10)", "(4, 6)", "66", "relu"]
    assert cells["fc3"] == ["fc3", "(4, 6)", "(3, 6)", "(4, 3)", "21", "-"]
    assert "147" in cells["total"]


def test_summary_totals_are_measured() -> None:
    model = build_model(ModelSpec(5, 3, (10, 6), dropout=0.5), seed=0)
    s = summarize(model, 5, batch_size=4)
    assert s.total_params == 147
    assert s.param_bytes == 147 * 4
    # outputs of fc1, act1, drop1, fc2, act2, drop2, fc3 for a batch of 4, float32
    assert s.activation_bytes == 4 * 4 * (10 + 10 + 10 + 6 + 6 + 6 + 3)
    assert s.rows[0].activation == "relu, dropout(0.5)"


def test_summary_of_a_saved_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(["train", "--epochs", "1", "--dataset", "iris", "--out", str(tmp_path), "--name", "s"])
        == 0
    )
    capsys.readouterr()
    assert run(["summary", str(tmp_path / "s"), "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "(2, 4)" in out and "(16, 4)" in out and "(2, 3)" in out


def test_datasets_lists_every_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("linear", "moons", "spiral", "digits", "breast_cancer"):
        assert name in out
    assert "1797" in out and "64" in out
