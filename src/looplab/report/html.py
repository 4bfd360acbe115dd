"""``report.html``: one self-contained page per run, images embedded, that a learner would open.

The page is one ordered list of sections, :data:`SECTIONS`; each builder reads the finished run
and returns a section, or None when the run has nothing to show for it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from looplab.report.blocks import Section, render
from looplab.report.image_sections import confused_section, samples_section
from looplab.report.landscape_section import landscape_section
from looplab.report.monitor_sections import (
    activations_section,
    diagnoses_section,
    gradient_flow_section,
)
from looplab.report.schedule_section import schedule_section
from looplab.report.sections import (
    config_section,
    confusion_section,
    curves_section,
    learned_section,
    linear_section,
    metrics_section,
    summary_section,
)
from looplab.run.result import TrainResult, run_title

SECTIONS: list[Callable[[TrainResult], Section | None]] = [
    metrics_section,
    curves_section,
    schedule_section,
    learned_section,
    linear_section,
    confusion_section,
    samples_section,
    confused_section,
    landscape_section,
    summary_section,
    diagnoses_section,
    gradient_flow_section,
    activations_section,
    config_section,
]


def write_report(result: TrainResult, path: Path | None = None) -> Path:
    """Build every section and write the page (default: ``report.html`` in the run directory)."""
    target = path or result.report
    if target is None:
        raise ValueError("no path for the report: the run was not written to a directory")
    sections = [s for build in SECTIONS if (s := build(result)) is not None]
    target.write_text(render(f"looplab run — {run_title(result)}", sections))
    return target
