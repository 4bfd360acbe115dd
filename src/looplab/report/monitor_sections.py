"""The report's monitor sections: diagnoses, gradient flow and layer statistics, activations.

Listed in :data:`looplab.report.html.SECTIONS`; each returns None when the run has nothing
to show (gradient flow and histograms need ``--monitor``).
"""

from __future__ import annotations

import html

from looplab.plots.monitors import activation_histograms, columns_of, gradient_flow, layer_stats
from looplab.report.blocks import Section, figure_html, table_html
from looplab.run.result import TrainResult, run_title
from looplab.watch.diagnoses import KINDS, NEED_MONITOR, diagnoses_in
from looplab.watch.monitors import ACTIVATIONS_FILE, load_samples


def diagnoses_section(result: TrainResult) -> Section:
    """What the run's diagnoses said, or that none of them fired."""
    found = diagnoses_in(result.history)
    monitored = bool(columns_of(result.history, "grad_norm"))
    checked = ", ".join(k for k in KINDS if k not in NEED_MONITOR) + (
        ", " + ", ".join(NEED_MONITOR)
        if monitored
        else " (train with --monitor to also check " + ", ".join(NEED_MONITOR) + ")"
    )
    if not found:
        return Section("Diagnoses", f"<p>Nothing to report. Checked: {html.escape(checked)}.</p>")
    rows = [[n.kind, n.text, n.advice] for n in found]
    note = f"<p>Checked: {html.escape(checked)}.</p>"
    header = ["diagnosis", "what happened", "what to try"]
    return Section("Diagnoses", table_html(header, rows) + note)


def gradient_flow_section(result: TrainResult) -> Section | None:
    """Gradient norm per layer over epochs and against depth, then the other layer statistics."""
    if not columns_of(result.history, "grad_norm"):
        return None
    title = run_title(result)
    return Section(
        "Gradient flow and layer statistics",
        figure_html(gradient_flow(result.history, title), "gradient norm per layer")
        + figure_html(layer_stats(result.history, title), "layer statistics per epoch"),
    )


def activations_section(result: TrainResult) -> Section | None:
    """Histograms of each activation layer's outputs at the sampled epochs."""
    path = result.run_dir / ACTIVATIONS_FILE if result.run_dir else None
    if path is None or not path.exists():
        return None
    samples = load_samples(path)
    if not samples:
        return None
    fig = activation_histograms(samples, run_title(result))
    return Section("Activation histograms", figure_html(fig, "activation histograms"))
