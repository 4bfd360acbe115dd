"""The building blocks of a report page: a section, a figure as an embedded PNG, a table, a
number to 4 significant digits, and the page itself."""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from looplab.plots.style import DPI, fit_titles

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Section:
    title: str
    body: str  # HTML

    @property
    def id(self) -> str:
        """The section's HTML id, from its title: ``Loss landscape`` -> ``loss-landscape``."""
        return "-".join("".join(c if c.isalnum() else " " for c in self.title.lower()).split())

    def html(self) -> str:
        return f'<section id="{self.id}"><h2>{html.escape(self.title)}</h2>{self.body}</section>'


def figure_html(fig: Figure, alt: str) -> str:
    """A figure as an embedded PNG ``<img>`` (the report stays one file)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fit_titles(fig)
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return png_html(buf.getvalue(), alt)


def png_html(png: bytes, alt: str) -> str:
    """PNG bytes as an embedded ``<img>``."""
    data = base64.b64encode(png).decode("ascii")
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


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; }
th { background: #f4f4f4; } img { max-width: 100%; margin: .3em; }
"""


def render(title: str, sections: list[Section]) -> str:
    parts = [s.html() for s in sections]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>"
    )
