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


def _penguins(path: Path) -> None:
    islands = ["Biscoe", "Dream", "Torgersen"]
    rows = ["bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,island,sex,species"]
    for i in range(90):
        s = i % 3
        rows.append(
            f"{35 + 5 * s + (i % 7) / 3:.1f},{15 + s + (i % 5) / 5:.1f},{180 + 10 * s + i % 4},"
            f"{3500 + 300 * s + i % 9},{islands[s]},{'male' if i % 2 else 'female'},"
            f"{['Adelie', 'Chinstrap', 'Gentoo'][s]}"
        )
    path.write_text("\n".join(rows) + "\n")


NEW_ROWS = """bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,island,sex
39.1,15.2,181,3550,Biscoe,male
45.0,17.1,200,3800,Atlantis,female
,,,,,
inf,16,190,3600,Dream,male
44,,195,3700,Dream,male
"""


@pytest.fixture(scope="module")
def penguin_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("predict")
    _penguins(root / "penguins.csv")
    args = ["train", "--dataset", f"csv:{root / 'penguins.csv'}", "--target", "species",
            "--epochs", "15", "--out", str(root), "--name", "p"]  # fmt: skip
    assert run(args) == 0
    (root / "new.csv").write_text(NEW_ROWS)
    return root


def test_rows_that_cannot_be_predicted_are_flagged_and_the_others_predicted(
    penguin_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = penguin_run / "pred.csv"
    args = ["predict", str(penguin_run / "p"), "--input", str(penguin_run / "new.csv")]
    assert run([*args, "--output", str(out_file)]) == 0
    err = capsys.readouterr().err
    rows = list(csv.DictReader(out_file.open()))
    assert [r["prediction"] for r in rows] == ["Adelie", "", "", "", rows[4]["prediction"]]
    assert rows[4]["prediction"] in ("Adelie", "Chinstrap", "Gentoo")  # one value filled in
    assert rows[1]["p(Adelie)"] == "" and rows[1]["p(Gentoo)"] == ""  # not p = 1.0
    assert "island='Atlantis' was not seen in training (seen: Biscoe, Dream" in rows[1]["problem"]
    assert rows[2]["problem"] == "every feature is empty"
    assert rows[3]["problem"] == "bill_length_mm=inf is not a finite number"
    assert rows[0]["problem"] == rows[4]["problem"] == ""
    assert "3 of 5 rows were not predicted (row 2: island='Atlantis'" in err
    assert "Traceback" not in err


def test_the_terminal_table_reads_at_80_columns(
    penguin_run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from looplab.cli.output import console

    monkeypatch.setattr(console, "width", 80)
    args = ["predict", str(penguin_run / "p"), "--input", str(penguin_run / "new.csv")]
    assert run(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in out  # nothing cut: what does not fit is left out or folded
    header = next(line for line in lines if "┃ row" in line)
    for column in ("row", "prediction", "p(Adelie)", "p(Chinstrap)", "p(Gentoo)", "note"):
        assert column in header
    assert "input column(s) left out to fit the terminal" in out
    body = [line for line in lines if line.startswith("│")]
    assert [line.split("│")[1].strip() for line in body if line.split("│")[1].strip()] == [
        "1", "2", "3", "4", "5"
    ]  # fmt: skip
