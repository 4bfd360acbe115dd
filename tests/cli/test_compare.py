"""`looplab compare`: the table, the PNG and the CSVs, and one-line errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from looplab.cli import run


def test_compare_writes_plot_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compare", "--batch-sizes", "8,32,full", "--seeds", "2", "--epochs", "2"]
    code = run([*args, "--out", str(tmp_path), "--name", "c"])
    out = capsys.readouterr().out
    assert code == 0
    out_dir = tmp_path / "c"
    assert (out_dir / "compare.png").stat().st_size > 10_000
    assert f"plot: {out_dir / 'compare.png'}" in out.replace("\n", "")
    rows = list(csv.DictReader((out_dir / "summary.csv").open()))
    assert [r["batch_size"] for r in rows] == ["8", "32", "full"]
    assert [r["updates_per_epoch"] for r in rows] == ["20.0", "5.0", "1.0"]
    assert rows[2]["noise"] == "nan"  # one update per epoch: no spread to measure
    for line, updates in (("│ 8 ", "20"), ("│ 32 ", "5"), ("│ full ", "1")):
        table_row = next(r for r in out.splitlines() if r.startswith(line))
        assert updates in table_row and "±" in table_row
    assert "sgd on linear, lr 0.05, 2 epochs, 2 seeds" in out  # compare's defaults
    assert (out_dir / "config.toml").read_text().count('dataset = "linear"') == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-sizes", "1,zero"], "batch sizes must be positive whole numbers or 'full'"),
        (["--batch-size", "8"], "drop --batch-size"),
        (["--batch-sizes", "1,500"], "batch size 500 is larger than the training split (160 rows)"),
    ],
)
def test_compare_errors_are_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["compare", "--epochs", "1", "--seeds", "1", "--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
