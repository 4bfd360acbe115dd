"""Each note of a run is said once in its report: diagnoses in the Diagnoses section, the
other notes (early stopping, rollbacks, the data's) in "What the run said"."""

from __future__ import annotations

import html
import re
from pathlib import Path

from looplab.cli import run


def _section(report: str, title: str) -> str:
    """The HTML of one report section, from its heading to the next."""
    start = report.index(f"<h2>{title}</h2>")
    end = report.find("<h2>", start + 1)
    return report[start : end if end > 0 else len(report)]


def test_a_diagnosis_and_early_stopping_are_each_said_once(tmp_path: Path) -> None:
    # 30 noisy training points and a 64-64 MLP: the validation loss turns up after a few
    # epochs (overfitting, a diagnosis) and early stopping ends the run (a note, no diagnosis)
    args = ["train", "--dataset", "moons", "--n", "60", "--noise", "0.4", "--val-fraction",
            "0.5", "--hidden", "64,64", "--batch-size", "full", "--epochs", "120",
            "--patience", "12", "--device", "cpu", "--out", str(tmp_path),
            "--name", "run"]  # fmt: skip
    assert run(args) == 0
    run_dir = tmp_path / "run"
    messages = (run_dir / "messages.txt").read_text().splitlines()
    kinds = [m.split(":", 1)[0] for m in messages]
    assert kinds == ["overfitting", "early stopping"]
    overfitting, early = messages
    report = (run_dir / "report.html").read_text()
    text = html.escape(overfitting.split(": ", 1)[1].split("; ")[0])  # what was seen
    assert report.count(text) == 1
    assert text in _section(report, "Diagnoses")
    said = _section(report, "Final metrics")
    assert "<h3>What the run said</h3>" in said
    assert html.escape(early) in said and "overfitting" not in said
    assert "early stopping is on and will restore the best epoch" in overfitting
    assert re.search(
        r"Checked: non-finite loss, diverging, .* overfitting \(train with --monitor", report
    )


def test_a_run_with_only_diagnoses_has_no_list_of_other_notes(tmp_path: Path) -> None:
    args = ["train", "--optimizer", "sgd", "--lr", "1e-9", "--n", "200", "--epochs", "24",
            "--device", "cpu", "--out", str(tmp_path), "--name", "run"]  # fmt: skip
    assert run(args) == 0
    report = (tmp_path / "run" / "report.html").read_text()
    assert "What the run said" not in report
    assert report.count("the steps are too small to get anywhere") == 1
    assert "<td>plateau</td>" in _section(report, "Diagnoses")
