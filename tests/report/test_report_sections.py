"""The report's configuration (TOML values, only the fields that apply) and its loss-landscape
section, which ``looplab landscape RUN`` adds to a finished run's page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from looplab.cli import run
from looplab.config import Config
from looplab.pipeline import train
from looplab.report.landscape_section import add_landscape_section


def config_rows(html: str) -> dict[str, str]:
    section = html.split('<section id="configuration">')[1].split("</section>")[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td>", section)
    return {field: value for field, value in rows}


def test_configuration_shows_toml_values_of_the_fields_that_apply(tmp_path: Path) -> None:
    result = train(Config(epochs=2, n=100, out=str(tmp_path)))
    assert result.report is not None
    rows = config_rows(result.report.read_text())
    assert rows["hidden"] == "[16, 16]"
    assert rows["dataset"] == "&quot;moons&quot;"  # a quoted TOML string, HTML-escaped
    assert rows["residual"] == "false" and rows["n"] == "100"
    for absent in (
        "momentum",
        "warmup",
        "target",
        "drop",
        "impute",
        "task",
        "checkpoint_every",
        "checkpoint_steps",
        "threads",
        "standardize_target",
    ):
        assert absent not in rows, absent
    sgd = train(
        Config(
            epochs=2, n=100, optimizer="momentum", schedule="cosine", warmup=1, out=str(tmp_path)
        )
    )
    assert sgd.report is not None
    rows = config_rows(sgd.report.read_text())
    assert rows["momentum"] == "0.9" and rows["warmup"] == "1"


def test_landscape_figures_join_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "train",
        "--epochs",
        "3",
        "--n",
        "120",
        "--hidden",
        "6",
        "--out",
        str(tmp_path),
        "--name",
        "r",
    ]
    assert run(args) == 0
    page = tmp_path / "r" / "report.html"
    assert 'id="loss-landscape"' not in page.read_text()
    assert run(["landscape", str(tmp_path / "r"), "--resolution", "5"]) == 0
    assert "added them to" in capsys.readouterr().out
    assert add_landscape_section(tmp_path / "r")  # as when drawn again: replaced, not added
    html = page.read_text()
    assert html.count('<section id="loss-landscape">') == 1
    section = html.split('<section id="loss-landscape">')[1].split("</section>")[0]
    names = re.findall(r"\((landscape_\w+\.png)\)</figcaption>", section)
    assert names == [f"landscape_{n}.png" for n in ("line", "contour", "surface", "path")]
    assert section.count("data:image/png;base64,") == 4
    assert html.index('id="loss-landscape"') < html.index('id="layers"')
    again = train(Config(epochs=1, n=120, hidden=[6], out=str(tmp_path), name="r2"))
    assert again.report is not None and again.run_dir is not None
    for name in names:  # a report written where the files already are finds them itself
        (again.run_dir / name).write_bytes((tmp_path / "r" / name).read_bytes())
    from looplab.report.html import write_report

    assert 'id="loss-landscape"' in write_report(again).read_text()
