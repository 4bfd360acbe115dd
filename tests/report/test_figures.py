"""What the report's figures show and that nothing in them is cut off: colour bars that say
what the colour is, the true function beside a fitted curve, predicted against true values with
R^2, titles folded to fit, sweep figures that stay readable with many configurations."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from sklearn.metrics import r2_score

from looplab.config import Config
from looplab.data.split import Split
from looplab.experiments.regularization import RemedyResult
from looplab.experiments.sweep import RunOutcome, parse_vary, summarize, sweep_points
from looplab.pipeline import train
from looplab.plots import curves, monitors, predictions
from looplab.plots.confusion import confusion_matrix
from looplab.plots.regularization import gap_bars
from looplab.plots.schedule import schedule_figure
from looplab.plots.style import fit_titles
from looplab.plots.sweep import band_curves, final_metric_bars
from looplab.run.result import TrainResult
from looplab.watch.monitors import ACTIVATIONS_FILE, load_samples

LONG = (
    "moons: MLP 2-64-64-64-64-64-64-1 (relu, batch norm, residual), adamw lr 0.001, "
    "batch 32, weight decay 0.01, dropout 0.1, 300 epochs, seed 12345, on a long name"
) * 2


def in_memory(part: object) -> Split:
    assert isinstance(part, Split)
    return part


def clipped(fig: Figure) -> bool:
    """Whether anything drawn reaches past the figure's edge."""
    fig.canvas.draw()
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())  # type: ignore[attr-defined]
    edge = fig.bbox_inches
    return bool(Bbox.union([drawn, edge]).bounds != pytest.approx(edge.bounds, abs=0.02))


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    out = tmp_path_factory.mktemp("runs")
    return train(Config(epochs=3, n=200, monitor=True, hidden=[8] * 6, out=str(out)))


@pytest.fixture(scope="module")
def sine() -> TrainResult:
    return train(Config(dataset="sine", epochs=5), write=False)


def sweep_outcomes(vary: list[str], seeds: int = 2) -> list[RunOutcome]:
    """Made-up curves for a real grid: configuration k learns at its own rate."""
    points = sweep_points(Config(epochs=20), [parse_vary(v) for v in vary], seeds)
    outcomes = []
    for p in points:
        rate = 0.05 + 0.02 * p.cell + 0.003 * p.seed
        rows = [
            {
                "epoch": float(e),
                "val_loss": math.exp(-rate * e),
                "val_accuracy": 1 - 0.5 * math.exp(-rate * e),
            }
            for e in range(1, 21)
        ]
        outcomes.append(RunOutcome(p, rows, 1.0))
    return outcomes


def all_figures(r: TrainResult, s: TrainResult) -> dict[str, Callable[[], Figure]]:
    assert r.run_dir is not None
    v, sv = in_memory(r.data.val), in_memory(s.data.val)
    run_dir = r.run_dir
    pre, h = r.data.preprocessor, r.history
    grid = sweep_outcomes(["batch_size=1,8,32,64", "lr=0.01,0.03,0.1"])
    remedies = [RemedyResult(f"remedy {k}", 0.1 * k, 0.5, 1.0, 0.8, 300) for k in range(7)]
    return {
        "loss": lambda: curves.loss_curves(h, LONG, 2),
        "metric": lambda: curves.metric_curves(h, "binary", LONG, 2),
        "boundary": lambda: predictions.decision_boundary(
            r.model, v.X, v.y, "binary", r.data.class_names, pre, LONG
        ),
        "fitted": lambda: predictions.fitted_curve(
            s.model, sv.X, sv.y, s.data.preprocessor, LONG, "x", s.data.truth
        ),
        "predicted": lambda: predictions.predicted_vs_true(
            s.model, sv.X, sv.y, s.data.preprocessor, LONG
        ),
        "confusion": lambda: confusion_matrix(np.array([0, 1]), np.array([0, 0]), ["a", "b"], LONG),
        "gradient flow": lambda: monitors.gradient_flow(h, LONG),
        "layer stats": lambda: monitors.layer_stats(h, LONG),
        "histograms": lambda: monitors.activation_histograms(
            load_samples(run_dir / ACTIVATIONS_FILE),
            LONG,
        ),
        "schedule": lambda: schedule_figure({"cosine": [0.1, 0.05, 0.0]}, 1, LONG),
        "sweep curves": lambda: band_curves(grid, "val_loss", "loss", LONG, ["batch_size", "lr"]),
        "sweep bars": lambda: final_metric_bars(summarize(grid, 0.9), "accuracy", LONG),
        "regularize": lambda: gap_bars(remedies, LONG),
    }


def test_no_figure_is_clipped_with_a_long_run_title(
    monitored: TrainResult, sine: TrainResult
) -> None:
    figures = all_figures(monitored, sine)
    raw = figures["histograms"]()  # the reported case: its suptitle ran off both edges
    assert clipped(raw)
    plt.close(raw)
    for name, make in figures.items():
        fig = fit_titles(make())
        assert not clipped(fig), name
        plt.close(fig)


def test_saving_and_the_report_fold_titles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from looplab.plots import style
    from looplab.report import blocks

    folded: list[Figure] = []

    def spy(fig: Figure) -> Figure:
        folded.append(fig)
        return fig

    monkeypatch.setattr(style, "fit_titles", spy)
    monkeypatch.setattr(blocks, "fit_titles", spy)
    fig = schedule_figure({"step": [0.1, 0.1]}, 1, LONG)
    style.save(fig, str(tmp_path / "a.png"))
    other = schedule_figure({"step": [0.1, 0.1]}, 1, LONG)
    blocks.figure_html(other, "x")
    assert folded == [fig, other]


def test_the_decision_boundary_says_what_its_colours_are(monitored: TrainResult) -> None:
    v = in_memory(monitored.data.val)
    fig = predictions.decision_boundary(
        monitored.model, v.X, v.y, "binary", ["no", "yes"], monitored.data.preprocessor, "t"
    )
    bar = fig.axes[1]  # the colour bar's axes
    assert "P(yes)" in bar.get_ylabel()
    assert bar.get_yticklabels()[0].get_text() == "0.0"
    spiral = train(Config(dataset="spiral", epochs=2), write=False)
    sv = in_memory(spiral.data.val)
    fig = predictions.decision_boundary(
        spiral.model,
        sv.X,
        sv.y,
        "multiclass",
        spiral.data.class_names,
        spiral.data.preprocessor,
        "t",
    )
    bar = fig.axes[1]
    assert bar.get_ylabel() == "class the model predicts"
    assert [t.get_text() for t in bar.get_yticklabels()] == ["arm 0", "arm 1", "arm 2"]


@pytest.mark.parametrize(
    ("dataset", "formula", "fn"),
    [("linear", "y = 3x + 1", lambda x: 3 * x + 1), ("sine", "y = sin(x)", np.sin)],
)
def test_the_fitted_curve_draws_the_true_function_in_data_units(
    dataset: str, formula: str, fn: Callable[[np.ndarray], np.ndarray]
) -> None:
    result = train(Config(dataset=dataset, epochs=2), write=False)
    val, pre = in_memory(result.data.val), result.data.preprocessor
    assert pre is not None and pre.scales_target
    fig = predictions.fitted_curve(result.model, val.X, val.y, pre, "t", "x", result.data.truth)
    lines = {str(line.get_label()): line for line in fig.axes[0].get_lines()}
    truth = lines[f"truth: {formula}"]
    x, y = np.asarray(truth.get_xdata()), np.asarray(truth.get_ydata())
    assert np.allclose(y, fn(x), atol=1e-5)
    points = fig.axes[0].collections[0].get_offsets()  # the data, back in y's units
    raw_y = pre.unscale_target(val.y).numpy()
    assert np.allclose(np.asarray(points)[:, 1], raw_y, atol=1e-5)


def test_predicted_against_true_is_in_target_units_with_its_r2(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    table = tmp_path / "mass.csv"
    with table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["flipper", "bill", "mass"])
        for _ in range(150):
            a, b = rng.normal(200, 14), rng.normal(44, 5)
            writer.writerow(
                [round(a, 1), round(b, 1), round(50 * a - 20 * b - 5000 + rng.normal(0, 300))]
            )
    config = Config(dataset=f"csv:{table}", target="mass", epochs=30, out=str(tmp_path), name="m")
    result = train(config)
    assert result.report is not None
    html = result.report.read_text()
    assert '<section id="predicted-against-true"><h2>Predicted against true</h2>' in html
    val, pre = in_memory(result.data.val), result.data.preprocessor
    assert pre is not None
    fig = predictions.predicted_vs_true(result.model, val.X, val.y, pre, "t", "mass")
    with torch.no_grad():
        expected = pre.unscale_target(result.model(val.X)[:, 0]).numpy()
    truth = pre.unscale_target(val.y).numpy()
    offsets = np.asarray(fig.axes[0].collections[0].get_offsets())  # (rows, 2): true, predicted
    assert np.allclose(offsets[:, 0], truth, rtol=1e-5) and np.allclose(
        offsets[:, 1], expected, rtol=1e-4
    )
    shown = float(re.search(r"R\$\^2\$ = (\S+)", fig.axes[0].get_title()).group(1))  # type: ignore[union-attr]
    assert shown == pytest.approx(r2_score(truth, expected), abs=1e-3)
    assert fig.axes[0].get_xlabel() == "true mass"


def test_twelve_sweep_configurations_get_panels_and_a_legend_beside_the_data() -> None:
    grid = band_curves(
        sweep_outcomes(["batch_size=1,8,32,64", "lr=0.01,0.03,0.1"]),
        "val_loss",
        "loss",
        "t",
        ["batch_size", "lr"],
    )
    panels = [ax for ax in grid.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == [f"batch_size={b}" for b in (1, 8, 32, 64)]
    assert all(len(ax.get_lines()) == 3 for ax in panels)
    one = band_curves(
        sweep_outcomes([f"lr={','.join(str(k / 100) for k in range(1, 13))}"]),
        "val_loss",
        "loss",
        "t",
        ["lr"],
    )
    looks = {(line.get_color(), line.get_linestyle()) for line in one.axes[0].get_lines()}
    assert len(looks) == 12  # every configuration its own colour and dash
    assert "#F0E442" not in {c for c, _ in looks}  # yellow is too faint for a line
    for fig in (grid, one):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        legend = fig.legends[0].get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible():
                assert not legend.overlaps(ax.get_window_extent(renderer))
        plt.close(fig)
