"""The report's core sections: final metrics, curves, what the model learned (a figure, and a
linear model's coefficients), the confusion matrix, the layer table and the configuration.
Each reads the finished run and returns a
:class:`~looplab.report.blocks.Section`, or None when the run has nothing to show."""

from __future__ import annotations

import html
import math

import torch

from looplab.config import HELP, applicable, toml_value
from looplab.inspect.coefficients import linear_coefficients, output_names
from looplab.inspect.summary import HEADER, format_bytes, summarize, table_rows
from looplab.models.losses import predict_labels
from looplab.plots.confusion import confusion_matrix
from looplab.plots.curves import LOSS_LABEL, loss_curves, metric_curves
from looplab.plots.predictions import decision_boundary, fitted_curve, predicted_vs_true
from looplab.report.blocks import Section, figure_html, fmt, table_html
from looplab.run.result import TrainResult, run_title
from looplab.watch.diagnoses import other_notes


def metrics_section(result: TrainResult) -> Section:
    """The kept model's metrics on each split the run has (no test column without a test
    split), what they are, and what the run said."""
    history = result.history
    splits = [s for s in ("train", "validation", "test") if s in result.final]
    names = sorted({name for metrics in result.final.values() for name in metrics})
    rows = [[name, *(fmt(result.final[s].get(name, math.nan)) for s in splits)] for name in names]
    total_time = history.seconds
    # diagnoses have their own section: here only the other notes (early stopping, rollbacks,
    # the data's notes), so that each note is said once
    notes = "".join(f"<li>{html.escape(str(n))}</li>" for n in other_notes(history))
    about = "".join(f"<li>{html.escape(line)}</li>" for line in result.about_final)
    body = (
        f"<p>{len(history)} epochs in {total_time:.2f} s of training and validation "
        f"({fmt(history.last.get('samples_per_s', math.nan))} training examples/s).</p>"
        + table_html(["metric", *splits], rows)
        + f"<ul>{about}</ul>"
        + (f"<h3>What the run said</h3><ul>{notes}</ul>" if notes else "")
    )
    return Section("Final metrics", body)


def curves_section(result: TrainResult) -> Section:
    """Loss and accuracy / R^2 per epoch, the kept epoch marked when early stopping chose it."""
    title = run_title(result)
    kept = result.kept_epoch if result.config.patience > 0 else None
    pre = result.data.preprocessor
    scaled = result.data.task == "regression" and pre is not None and pre.scales_target
    ylabel = "loss: MSE on the standardized target" if scaled else LOSS_LABEL
    loss = loss_curves(result.history, f"Loss — {title}", kept, ylabel)
    metric = metric_curves(result.history, result.data.task, title, kept)
    note = (
        "<p>Train values are running averages over each epoch while the weights moved; "
        "validation values are measured after each epoch.</p>"
    )
    return Section(
        "Training curves",
        figure_html(loss, "loss per epoch") + figure_html(metric, "metric per epoch") + note,
    )


def _shown_split(result: TrainResult) -> tuple[str, torch.Tensor, torch.Tensor]:
    from looplab.data.split import Split

    for name, part in (("validation", result.data.val), ("training", result.data.train)):
        if isinstance(part, Split):
            return name, part.X, part.y
    raise LookupError("no in-memory split to draw")


def learned_section(result: TrainResult) -> Section | None:
    """The decision boundary (classification, 2 features), the fitted curve (regression, 1
    feature; with the true function of synthetic data) or predicted against true values
    (regression, more features)."""
    data = result.data
    try:
        split, X, y = _shown_split(result)
    except LookupError:
        return None
    title = f"{run_title(result)}\n{split} data"
    pre = data.preprocessor
    if data.task != "regression" and data.n_features == 2:
        names = (data.feature_names[0], data.feature_names[1])
        fig = decision_boundary(result.model, X, y, data.task, data.class_names, pre, title, names)
        return Section("Decision boundary", figure_html(fig, "decision boundary"))
    if data.task == "regression" and data.n_features == 1:
        fig = fitted_curve(result.model, X, y, pre, title, data.feature_names[0], data.truth,
                           data.target_name)  # fmt: skip
        return Section("Fitted curve", figure_html(fig, "fitted curve"))
    if data.task == "regression":
        fig = predicted_vs_true(result.model, X, y, pre, title, data.target_name)
        return Section("Predicted against true", figure_html(fig, "predicted against true"))
    return None


def linear_section(result: TrainResult) -> Section | None:
    """A linear model's weights and biases, as learned and in the data's own units."""
    data = result.data
    outputs = output_names(data.task, data.class_names, data.target_name)
    coef = linear_coefficients(result.model, data.preprocessor, data.feature_names, outputs)
    if coef is None:
        return None
    rows = [[o, term, fmt(w), fmt(raw)] for o, term, w, raw in coef.entries()]
    header = ["output", "term", "learned (standardized)", "in the data's units"]
    pre = data.preprocessor
    scaled = [what for what, on in (("features", pre is not None and pre.standardize),
              ("target", pre is not None and pre.scales_target)) if on]  # fmt: skip
    note = (
        f"<p>The model learns with standardized {' and '.join(scaled) or 'nothing'}"
        "; undoing the standardization gives the weights in the data's own units: "
        "w<sub>raw</sub> = w &sigma;<sub>y</sub> / &sigma;<sub>x</sub>, "
        "b<sub>raw</sub> = &mu;<sub>y</sub> + &sigma;<sub>y</sub> "
        "(b &minus; &Sigma; w &mu;<sub>x</sub> / &sigma;<sub>x</sub>).</p>"
    )
    return Section("What the linear model learned", table_html(header, rows) + note)


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
    s = summarize(result.model, result.spec.input_shape or result.spec.in_features, batch)
    totals = (
        f"<p>{s.total_params:,} parameters ({format_bytes(s.param_bytes)}); "
        f"activations of one batch of {s.batch_size}: {format_bytes(s.activation_bytes)}.</p>"
    )
    return Section("Layers", table_html(HEADER, table_rows(s)) + totals)


def config_section(result: TrainResult) -> Section:
    """The fields that matter to this run (:func:`looplab.config.applicable`), written as in a
    TOML file, with what each one means."""
    fields = applicable(result.config, result.data.task)
    rows = [[name, toml_value(value), HELP.get(name, "")] for name, value in fields.items()]
    note = "<p>Fields that do not apply to this run are left out; config.toml holds them all.</p>"
    return Section("Configuration", table_html(["field", "value (TOML)", "meaning"], rows) + note)
