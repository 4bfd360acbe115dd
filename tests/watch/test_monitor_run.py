"""`looplab train --monitor` end to end: history columns, messages.txt, report sections, and
the figures the report embeds."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from looplab.cli import run
from looplab.loop.history import History
from looplab.plots.monitors import activation_histograms, gradient_flow, layer_stats
from looplab.watch.monitors import ACTIVATIONS_FILE, load_samples


def _only_run(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_train_monitor_records_columns_samples_and_report_sections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["train", "--n", "200", "--epochs", "4", "--monitor", "--out", str(tmp_path)])
    assert code == 0
    run_dir = _only_run(tmp_path)
    with (run_dir / "history.csv").open() as f:
        header = next(csv.reader(f))
    for layer in ("fc1", "fc2", "fc3"):
        for stat in ("grad_norm", "weight_norm", "update_ratio"):
            assert f"{stat}/{layer}" in header
    for stat in ("act_mean", "act_std", "dead_frac"):
        assert f"{stat}/act1" in header and f"{stat}/act2" in header
    samples = load_samples(run_dir / ACTIVATIONS_FILE)
    assert sorted(samples) == [1, 2, 4]  # first, middle, last epoch
    assert samples[4]["act1"].size == 160 * 16  # every training row (160) x 16 units
    assert (samples[4]["act1"] >= 0).all()  # ReLU outputs
    report = (run_dir / "report.html").read_text()
    for title in ("Diagnoses", "Gradient flow and layer statistics", "Activation histograms"):
        assert f"<h2>{title}</h2>" in report
    assert "Nothing to report" in report
    assert (run_dir / "messages.txt").read_text() == ""


def test_a_diagnosis_is_printed_once_saved_in_messages_txt_and_shown_in_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "train",
        "--n",
        "200",
        "--epochs",
        "24",
        "--optimizer",
        "sgd",
        "--lr",
        "1e-9",
        "--out",
        str(tmp_path),
    ]
    assert run(args) == 0
    err = capsys.readouterr().err
    said = "plateau: the training loss improved by under 0.01% in 20 epochs"
    assert err.count(said) == 1
    run_dir = _only_run(tmp_path)
    saved = (run_dir / "messages.txt").read_text().splitlines()
    assert len([m for m in saved if m.startswith("plateau: ")]) == 1
    report = (run_dir / "report.html").read_text()
    assert "<td>plateau</td><td>the training loss improved by under 0.01% in 20 epochs" in report
    assert report.count("the weights moved only under 0.01% of their norm") == 1
    assert "Gradient flow" not in report  # no --monitor: no monitor figures


def test_monitor_figures_label_their_axes_and_draw_one_line_per_layer(tmp_path: Path) -> None:
    assert (
        run(
            [
                "train",
                "--n",
                "200",
                "--epochs",
                "3",
                "--hidden",
                "8,8,8",
                "--monitor",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    run_dir = _only_run(tmp_path)
    history = History.from_csv(run_dir / "history.csv")
    fig = gradient_flow(history, "moons")
    left, right = fig.axes
    assert len(left.get_lines()) == 4  # fc1..fc4
    assert left.get_xlabel() == "epoch" and "gradient norm" in left.get_ylabel()
    drawn = np.asarray(left.get_lines()[0].get_ydata(), dtype=float)
    np.testing.assert_allclose(drawn, history.column("grad_norm/fc1"))
    assert right.get_yscale() == "log" and len(right.get_lines()) == 3  # epochs 1, 2, 3
    stats = layer_stats(history, "moons")
    assert [ax.get_ylabel() for ax in stats.axes][:2] == [
        "activation std",
        "dead ReLU fraction (never fired)",
    ]
    hist = activation_histograms(load_samples(run_dir / ACTIVATIONS_FILE), "moons")
    visible = [ax for ax in hist.axes if ax.get_visible()]
    assert [ax.get_title().split()[0] for ax in visible] == ["act1", "act2", "act3"]
    legend = visible[0].get_legend()
    assert legend is not None
    assert "exactly 0)" in legend.get_texts()[0].get_text()  # ReLU zeros
    assert all(ax.get_xlabel() == "activation value" for ax in visible)
    with pytest.raises(ValueError, match="--monitor"):
        gradient_flow(History([{"epoch": 1.0, "train_loss": 0.5}]), "no monitor")
