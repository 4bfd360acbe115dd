"""``report.html``: one self-contained page per run, images embedded, that a learner would open.

The page is a list of sections (metrics, curves, what the model learned, confusion matrix,
layer table, config); each section builder reads the finished run and returns HTML or None.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from matplotlib.figure import Figure

from looplab.inspect.summary import HEADER, format_bytes, summarize, table_rows
from looplab.models.losses import predict_labels
from looplab.plots.confusion import confusion_matrix
from looplab.plots.curves import loss_curves, metric_curves
from looplab.plots.predictions import decision_boundary, fitted_curve
from looplab.plots.style import DPI

if TYPE_CHECKING:
    from looplab.run.result import TrainResult


@dataclass(frozen=True)
class Section:
    title: str
    body: str  # HTML


def run_title(result: TrainResult) -> str:
    """What was run, in one line: dataset, model, optimizer, batch size."""
    c, s = result.config, result.spec
    widths = "-".join(str(w) for w in (s.in_features, *s.hidden, s.out_features))
    extras = [s.activation] + ([f"{s.norm} norm"] if s.norm != "none" else [])
    extras += ["residual"] if s.residual and s.hidden else []
    model = f"MLP {widths} ({', '.join(extras)})" if s.hidden else f"linear {widths}"
    return f"{result.data.name}: {model}, {c.optimizer} lr {c.lr:g}, batch {c.batch_size}"


def figure_html(fig: Figure, alt: str) -> str:
    """A figure as an embedded PNG ``<img>`` (the report stays one file)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def table_html(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def fmt(x: float) -> str:
    """4 significant digits, as in the terminal."""
    return "nan" if not math.isfinite(x) else f"{x:.4g}"


def metrics_section(result: TrainResult) -> Section:
    history = result.history
    last = history.last
    names = sorted({k.split("_", 1)[1] for k in last if k.startswith(("train_", "val_"))})
    rows = [
        [
            name,
            fmt(last.get(f"train_{name}", math.nan)),
            fmt(last.get(f"val_{name}", math.nan)),
            fmt(result.test.get(name, math.nan)),
        ]
        for name in names
    ]
    total_time = sum(history.column("time_s"))
    notes = "".join(f"<li>{html.escape(m)}</li>" for m in history.messages)
    body = (
        f"<p>{len(history)} epochs in {total_time:.2f} s "
        f"({fmt(last.get('samples_per_s', math.nan))} training examples/s).</p>"
        + table_html(["metric (last epoch)", "train", "validation", "test"], rows)
        + (f"<h3>What the run said</h3><ul>{notes}</ul>" if notes else "")
    )
    return Section("Final metrics", body)


def curves_section(result: TrainResult) -> Section:
    title = run_title(result)
    return Section(
        "Training curves",
        figure_html(loss_curves(result.history, f"Loss — {title}"), "loss per epoch")
        + figure_html(metric_curves(result.history, result.data.task, title), "metric per epoch"),
    )


def _shown_split(result: TrainResult) -> tuple[str, torch.Tensor, torch.Tensor]:
    from looplab.data.split import Split

    for name, part in (("validation", result.data.val), ("training", result.data.train)):
        if isinstance(part, Split):
            return name, part.X, part.y
    raise LookupError("no in-memory split to draw")


def learned_section(result: TrainResult) -> Section | None:
    """The decision boundary (classification, 2 features) or the fitted curve (regression, 1)."""
    data = result.data
    try:
        split, X, y = _shown_split(result)
    except LookupError:
        return None
    title = f"{run_title(result)}\n{split} data"
    if data.task != "regression" and data.n_features == 2:
        names = (data.feature_names[0], data.feature_names[1])
        fig = decision_boundary(
            result.model, X, y, data.task, data.class_names, data.preprocessor, title, names
        )
        return Section("Decision boundary", figure_html(fig, "decision boundary"))
    if data.task == "regression" and data.n_features == 1:
        fig = fitted_curve(result.model, X, y, data.preprocessor, title, data.feature_names[0])
        return Section("Fitted curve", figure_html(fig, "fitted curve"))
    return None


def confusion_section(result: TrainResult) -> Section | None:
    if result.data.task == "regression":
        return None
    try:
        split, X, y = _shown_split(result)
    except LookupError:
        return None
    model = result.model
    model.eval()
    with torch.no_grad():
        predicted = predict_labels(
            model(X.to(next(model.parameters()).device)), result.data.task
        ).cpu()
    fig = confusion_matrix(
        y.long().numpy(),
        predicted.numpy(),
        result.data.class_names,
        f"Confusion matrix — {split} data",
    )
    return Section("Confusion matrix", figure_html(fig, "confusion matrix"))


def summary_section(result: TrainResult) -> Section:
    batch = result.config.batch_size if isinstance(result.config.batch_size, int) else 4
    s = summarize(result.model, result.spec.in_features, batch)
    totals = (
        f"<p>{s.total_params:,} parameters ({format_bytes(s.param_bytes)}); "
        f"activations of one batch of {s.batch_size}: {format_bytes(s.activation_bytes)}.</p>"
    )
    return Section("Layers", table_html(HEADER, table_rows(s)) + totals)


def config_section(result: TrainResult) -> Section:
    rows = [[k, str(v)] for k, v in result.config.to_dict().items()]
    return Section("Configuration", table_html(["field", "value"], rows))


SECTIONS: list[Callable[[TrainResult], Section | None]] = [
    metrics_section,
    curves_section,
    learned_section,
    confusion_section,
    summary_section,
    config_section,
]

# Diagnoses, gradient flow and activation histograms (they use the helpers above), before the
# configuration table.
from looplab.report.monitor_sections import MONITOR_SECTIONS  # noqa: E402

SECTIONS[-1:-1] = MONITOR_SECTIONS

from looplab.report.schedule_section import schedule_section  # noqa: E402

SECTIONS.insert(SECTIONS.index(curves_section) + 1, schedule_section)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; }
th { background: #f4f4f4; } img { max-width: 100%; margin: .3em; }
"""


def render(title: str, sections: list[Section]) -> str:
    parts = [f"<section><h2>{html.escape(s.title)}</h2>{s.body}</section>" for s in sections]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>"
    )


def write_report(result: TrainResult, path: Path | None = None) -> Path:
    """Build every section and write the page (default: ``report.html`` in the run directory)."""
    target = path or result.report
    if target is None:
        raise ValueError("no path for the report: the run was not written to a directory")
    sections = [s for build in SECTIONS if (s := build(result)) is not None]
    target.write_text(render(f"looplab run — {run_title(result)}", sections))
    return target
