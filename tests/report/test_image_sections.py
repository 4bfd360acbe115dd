"""The report of a run on images: sample images with true and predicted labels, and the most
confused pairs, checked against scikit-learn's confusion matrix."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix

from looplab.config import Config
from looplab.inspect.confusion import most_confused
from looplab.pipeline import train
from looplab.report.image_sections import confused_section, samples_section


def test_most_confused_are_the_largest_off_diagonal_cells() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, 500)
    predicted = np.where(rng.random(500) < 0.7, y, rng.integers(0, 6, 500))
    pairs = most_confused(torch.from_numpy(y), torch.from_numpy(predicted), 6, top=4)
    cells = confusion_matrix(y, predicted, labels=range(6))  # the oracle
    off = [(int(cells[t, p]), t, p) for t in range(6) for p in range(6) if t != p]
    expected = sorted(off, key=lambda c: (-c[0], c[1], c[2]))[:4]
    assert [(p.count, p.true, p.predicted) for p in pairs] == expected
    for p in pairs:
        assert p.share == pytest.approx(cells[p.true, p.predicted] / cells[p.true].sum())


def test_a_perfect_classifier_confuses_nothing() -> None:
    y = torch.arange(10)
    assert most_confused(y, y, 10) == []


def test_image_run_report_shows_samples_and_confused_pairs(tmp_path: Path) -> None:
    config = Config(dataset="mnist-5k", hidden=[16], epochs=1, batch_size=256,
                    out=str(tmp_path), name="r")  # fmt: skip
    result = train(config)
    page = (tmp_path / "r" / "report.html").read_text()
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings.index("Confusion matrix") < headings.index("Sample images")
    assert headings.index("Sample images") < headings.index("Most confused classes")
    section = confused_section(result)
    assert section is not None
    val = result.data.val
    with torch.no_grad():
        predicted = result.model(val.X).argmax(1)  # type: ignore[union-attr]
    wrong = int((predicted != val.y).sum())  # type: ignore[union-attr]
    assert f"{wrong} of 1000 validation images are misclassified" in section.body
    top = most_confused(val.y, predicted, 10, 1)[0]  # type: ignore[union-attr]
    assert f"<td>{top.true}</td><td>{top.predicted}</td><td>{top.count}</td>" in section.body
    assert section.body.count("<img") == 3  # examples of the top three pairs


def test_runs_on_features_have_no_image_sections(quick_config: Config) -> None:
    result = train(quick_config, write=False)
    assert samples_section(result) is None and confused_section(result) is None
