"""The report's core sections: final metrics, curves, what the model learned, the confusion
matrix, the layer table and the configuration. Each reads the finished run and returns a
:class:`~looplab.report.blocks.Section`, or None when the run has nothing to show."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

import torch

from looplab.inspect.summary import HEADER, format_bytes, summarize, table_rows
from looplab.models.losses import predict_labels
from looplab.plots.confusion import confusion_matrix
from looplab.plots.curves import loss_curves, metric_curves
from looplab.plots.predictions import decision_boundary, fitted_curve
from looplab.report.blocks import Section, figure_html, fmt, run_title, table_html

if TYPE_CHECKING:
    from looplab.run.result import TrainResult


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
    total_time = history.seconds
    notes = "".join(f"<li>{html.escape(m)}</li>" for m in history.messages)
    body = (
        f"<p>{len(history)} epochs in {total_time:.2f} s of training and validation "
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
