"""The report's loss-landscape section: the figures ``looplab landscape RUN`` wrote into the run
directory, when they exist.

A report is written when training ends, before any landscape is drawn, so ``looplab landscape``
also puts this section into the existing page (:func:`add_landscape_section`); a report written
later (a resumed run) finds the files itself through :data:`looplab.report.html.SECTIONS`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from looplab.plots.landscape import RUN_FIGURES
from looplab.report.blocks import Section, png_html

if TYPE_CHECKING:
    from looplab.run.result import TrainResult

REPORT_FILE = "report.html"
BEFORE = '<section id="layers">'  # the section the landscape comes before (else: the page end)


def landscape_of(run_dir: Path) -> Section | None:
    """The landscape figures found in ``run_dir`` with a line on each, or None."""
    found = [(run_dir / name, caption) for name, caption in RUN_FIGURES.items()]
    found = [(file, caption) for file, caption in found if file.exists()]
    if not found:
        return None
    body = "".join(
        f"<figure>{png_html(file.read_bytes(), file.stem)}"
        f"<figcaption>{html.escape(caption)} ({file.name})</figcaption></figure>"
        for file, caption in found
    )
    note = "<p>Drawn by <code>looplab landscape</code> on a fixed batch of training rows.</p>"
    return Section("Loss landscape", note + body)


def landscape_section(result: TrainResult) -> Section | None:
    return landscape_of(result.run_dir) if result.run_dir is not None else None


def add_landscape_section(run_dir: Path) -> bool:
    """Put the landscape section into ``run_dir``'s report, replacing an older one; False when
    there is no report or no figure."""
    page_file = run_dir / REPORT_FILE
    section = landscape_of(run_dir)
    if section is None or not page_file.exists():
        return False
    page = page_file.read_text()
    start = page.find(f'<section id="{section.id}">')
    if start >= 0:  # drawn before: replace it
        end = page.index("</section>", start) + len("</section>")
        page = page[:start] + section.html() + page[end:]
    else:
        at = page.find(BEFORE)
        at = at if at >= 0 else page.index("</body>")
        page = page[:at] + section.html() + page[at:]
    page_file.write_text(page)
    return True
