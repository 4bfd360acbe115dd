"""The numbers a run reports are those of the model it kept: after early stopping restored an
earlier epoch, the terminal and the report show that model, measured as it is saved."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from looplab.cli import run
from looplab.data.prepared import load_prepared
from looplab.loop.history import History
from looplab.run.evaluation import evaluate_splits, kept_epoch
from looplab.run.saved import load_run

ARGS = [
    "train",
    "--dataset",
    "moons",
    "--n",
    "300",
    "--noise",
    "0.3",
    "--hidden",
    "64,64",
    "--lr",
    "0.05",
    "--epochs",
    "60",
    "--patience",
    "4",
    "--test-fraction",
    "0.2",
]


def printed_table(out: str) -> dict[str, list[float]]:
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 4 and cells[0] in ("loss", "accuracy"):
            rows[cells[0]] = [float(c) for c in cells[1:]]
    return rows


def report_table(html: str) -> dict[str, list[float]]:
    section = html.split("<h2>Final metrics</h2>")[1].split("</table>")[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", section):
        cells = re.findall(r"<td>(.*?)</td>", row)
        if cells:
            rows[cells[0]] = [float(c) for c in cells[1:]]
    return rows


def test_terminal_and_report_show_the_saved_models_metrics_after_early_stopping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*ARGS, "--out", str(tmp_path), "--name", "es"]) == 0
    out = capsys.readouterr().out
    run_dir = tmp_path / "es"
    history = History.from_csv(run_dir / "history.csv")
    note = next(
        line
        for line in (run_dir / "messages.txt").read_text().splitlines()
        if line.startswith("early stopping")
    )
    best = int(re.search(r"restored the weights of epoch (\d+)", note).group(1))  # type: ignore[union-attr]
    assert best < len(history)  # the case that matters: the last epoch is not the kept one
    assert kept_epoch(history, patience=4) == best
    saved = load_run(run_dir)
    assert saved.config is not None
    oracle = evaluate_splits(saved.model, load_prepared(saved.config))
    expected = {
        m: [oracle[s][m] for s in ("train", "validation", "test")] for m in ("loss", "accuracy")
    }
    shown = printed_table(out)
    page = report_table((run_dir / "report.html").read_text())
    for metric, values in expected.items():
        assert shown[metric] == pytest.approx(values, rel=1e-3)  # 4 significant digits
        assert page[metric] == pytest.approx(values, rel=1e-3)
    last_val = history.last["val_loss"]
    assert last_val != pytest.approx(oracle["validation"]["loss"], rel=1e-3)  # not epoch N's
    assert f"epoch {best} of {len(history)}, restored by early stopping" in out


def test_the_report_has_no_test_column_without_a_test_split(tmp_path: Path) -> None:
    assert run(["train", "--epochs", "2", "--out", str(tmp_path), "--name", "t"]) == 0
    html = (tmp_path / "t" / "report.html").read_text()
    header = html.split("<h2>Final metrics</h2>")[1].split("</thead>")[0]
    assert re.findall(r"<th>(.*?)</th>", header) == ["metric", "train", "validation"]
    assert ">nan<" not in html


def test_kept_epoch_is_the_first_lowest_validation_loss_or_the_last_epoch() -> None:
    rows = [
        {"epoch": float(e), "train_loss": 1.0, "val_loss": v}
        for e, v in enumerate([0.9, 0.5, float("nan"), 0.5, 0.7], start=1)
    ]
    assert kept_epoch(History(rows), patience=2) == 2
    assert kept_epoch(History(rows), patience=0) == 5
    assert kept_epoch(History(), patience=3) == 0
