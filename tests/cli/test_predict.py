"""`looplab predict`: class names and probabilities from a saved run, CSV runs included."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from looplab.cli import run


def test_predict_names_classes_and_applies_the_saved_standardization(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["train", "--out", str(tmp_path), "--name", "m"]) == 0
    points = tmp_path / "points.csv"
    # the tips of the two moons, in the data's own units: far inside each class
    points.write_text("x1,x2\n-1.0,0.2\n2.0,0.2\n")
    out_file = tmp_path / "pred.csv"
    assert (
        run(["predict", str(tmp_path / "m"), "--input", str(points), "--output", str(out_file)])
        == 0
    )
    rows = list(csv.DictReader(out_file.open()))
    assert [r["prediction"] for r in rows] == ["class 0", "class 1"]
    assert float(rows[0]["p(class 0)"]) > 0.9 and float(rows[1]["p(class 1)"]) > 0.9
    capsys.readouterr()
    assert run(["predict", str(tmp_path / "m"), "--input", str(points)]) == 0
    assert "class 1" in capsys.readouterr().out


def test_predict_with_a_csv_trained_run_uses_its_encoding(tmp_path: Path) -> None:
    data = tmp_path / "fruit.csv"
    rows = [
        f"{w},{'yellow' if i % 2 else 'green'},{'banana' if i % 2 else 'apple'}"
        for i, w in enumerate(range(100, 160))
    ]
    data.write_text("weight,colour,fruit\n" + "\n".join(rows) + "\n")
    args = [
        "train",
        "--dataset",
        f"csv:{data}",
        "--target",
        "fruit",
        "--epochs",
        "30",
        "--out",
        str(tmp_path),
        "--name",
        "f",
    ]
    assert run(args) == 0
    new = tmp_path / "new.csv"
    new.write_text("weight,colour\n120,yellow\n130,green\n")
    out_file = tmp_path / "pred.csv"
    assert (
        run(["predict", str(tmp_path / "f"), "--input", str(new), "--output", str(out_file)]) == 0
    )
    assert [r["prediction"] for r in csv.DictReader(out_file.open())] == ["banana", "apple"]
