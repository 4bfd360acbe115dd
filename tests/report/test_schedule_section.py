"""The report's learning-rate section: shown for a schedule, left out for a constant lr."""

from __future__ import annotations

import dataclasses

from looplab.config import Config
from looplab.pipeline import train
from looplab.report.html import SECTIONS
from looplab.report.schedule_section import schedule_section
from looplab.report.sections import curves_section


def test_section_follows_the_curves_and_needs_a_schedule() -> None:
    assert SECTIONS[SECTIONS.index(curves_section) + 1] is schedule_section
    result = train(Config(n=100, epochs=4, schedule="cosine", warmup=1), write=False)
    section = schedule_section(result)
    assert section is not None and section.title == "Learning rate"
    assert section.body.count("<img") == 1 and "3 updates per epoch" in section.body
    assert 'alt="learning rate: cosine, warm-up 1: lr 0.01, 4 epochs, torch"' in section.body
    constant = result.config.replace(schedule="constant", warmup=0)
    assert schedule_section(dataclasses.replace(result, config=constant)) is None
