"""What a sweep writes into its one output directory: the results table as CSV and Markdown,
one row per run as CSV, the curve and bar figures as PNG, and a self-contained ``report.html``.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Sequence
from pathlib import Path

from looplab.config import Config, applicable, toml_value
from looplab.experiments.sweep import Axis, CellSummary, RunOutcome, markdown, table
from looplab.plots.style import save
from looplab.plots.sweep import band_curves, final_metric_bars
from looplab.report.blocks import Section, render, table_html


def sweep_title(base: Config, axes: Sequence[Axis], seeds: int) -> str:
    """``moons: sweep of batch_size x lr, 3 seeds (mlp 16-16 relu, adam, 50 epochs)``."""
    varied = " x ".join(a.name for a in axes)
    names = {a.name for a in axes}
    parts = [] if "model" in names else [base.model]
    if base.model == "mlp" and not names & {"hidden", "model"}:
        parts.append("-".join(map(str, base.hidden)))
    if not names & {"activation"} and base.model == "mlp":
        parts.append(base.activation)
    fixed = [" ".join(parts)] if parts else []
    for key in ("optimizer", "lr", "batch_size"):
        if key not in names:
            fixed.append(f"{key} {getattr(base, key)}")
    if "epochs" not in names:
        fixed.append(f"{base.epochs} epochs")
    plural = "s" * (seeds > 1)
    return f"{base.dataset}: sweep of {varied}, {seeds} seed{plural} ({', '.join(fixed)})"


def _pretty(metric: str) -> str:
    split, _, name = metric.partition("_")
    return f"{'validation' if split == 'val' else 'training'} {'R²' if name == 'r2' else name}"


def write_sweep(
    out: Path,
    base: Config,
    axes: Sequence[Axis],
    outcomes: Sequence[RunOutcome],
    summaries: Sequence[CellSummary],
    target: float,
    seconds: float,
    jobs: int,
) -> list[Path]:
    """Write every file of the sweep into ``out``; return their paths."""
    seeds = max(s.seeds for s in summaries)
    title = sweep_title(base, axes, seeds)
    header, rows = table(summaries, axes, target)
    files = {
        name: out / name
        for name in (
            "results.csv",
            "results.md",
            "runs.csv",
            "loss.png",
            "metric.png",
            "final.png",
            "report.html",
            "config.toml",
        )
    }
    with files["results.csv"].open("w", newline="") as f:
        csv.writer(f).writerows([header, *table(summaries, axes, target, exact=True)[1]])
    files["results.md"].write_text(f"# {title}\n\n" + markdown(header, rows))
    metric = summaries[0].metric
    loss = "val_loss" if metric.startswith("val_") else "train_loss"
    with files["runs.csv"].open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                *(a.name for a in axes),
                "seed",
                "epochs",
                f"final {metric}",
                f"final {loss}",
                "seconds",
            ]
        )
        for o in outcomes:
            last = o.rows[-1] if o.rows else {}
            writer.writerow(
                [
                    *o.point.values,
                    o.point.seed,
                    len(o.rows),
                    last.get(metric, math.nan),
                    last.get(loss, math.nan),
                    f"{o.seconds:.3f}",
                ]
            )
    base.save(files["config.toml"])
    names = [a.name for a in axes]
    figures = {
        "loss.png": band_curves(
            outcomes,
            loss,
            f"{_pretty(loss)} (mean per example)",
            f"{_pretty(loss)} — {title}",
            names,
        ),
        "metric.png": band_curves(
            outcomes, metric, _pretty(metric), f"{_pretty(metric)} — {title}", names
        ),
        "final.png": final_metric_bars(
            summaries, f"final {_pretty(metric)}", f"Final {_pretty(metric)} (mean ± std) — {title}"
        ),
    }
    images = []  # each figure is saved once, then embedded from its PNG: one self-contained page
    for name, fig in figures.items():
        save(fig, str(files[name]))
        images.append(
            f'<img alt="{html.escape(name)}" src="data:image/png;base64,{_b64(files[name])}">'
        )
    sections = [
        Section(
            "Results",
            f"<p>{len(outcomes)} runs in {seconds:.1f} s with {jobs} "
            f"process{'es' * (jobs > 1)}. Target: {_pretty(metric)} &ge; "
            f"{target:g}.</p>" + table_html(header, rows),
        ),
        Section("Curves (mean ± std over seeds)", "".join(images)),
        Section(
            "Base configuration",
            table_html(
                ["field", "value (TOML)"],
                [[k, toml_value(v)] for k, v in applicable(base).items()],
            ),
        ),
    ]
    files["report.html"].write_text(render(f"looplab {title}", sections))
    return list(files.values())


def _b64(path: Path) -> str:
    import base64

    return base64.b64encode(path.read_bytes()).decode("ascii")
