"""The report of a run on images: validation images with their true and predicted labels, and
the pairs of classes the model mixes up most, with examples of each."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from looplab.data.split import Split
from looplab.inspect.confusion import most_confused
from looplab.models.losses import predict_labels
from looplab.plots.batch import image_grid
from looplab.report.blocks import Section, figure_html, table_html

if TYPE_CHECKING:
    from looplab.run.result import TrainResult

SAMPLES = 24  # validation images shown with their labels
TOP_PAIRS = 5  # confused pairs listed
EXAMPLES = 8  # images shown of each of the top three pairs
RIGHT, WRONG = "#009E73", "#D55E00"


def _validation(result: TrainResult) -> tuple[Tensor, Tensor, Tensor, Tensor] | None:
    """Validation images in [0, 1], as the model saw them, true and predicted labels; None when
    the run is not on images or has no in-memory validation split."""
    data, part = result.data, result.data.val
    if not data.image_shape or not isinstance(part, Split):
        return None
    model = result.model
    model.eval()
    with torch.no_grad():
        device = next(model.parameters()).device
        predicted = torch.cat([
            predict_labels(model(part.X[i : i + 1024].to(device)), data.task).cpu()
            for i in range(0, len(part), 1024)
        ])  # fmt: skip
    pre = data.preprocessor
    raw = part.X * pre.std + pre.mean if pre is not None and pre.standardize else part.X
    return raw, part.X, part.y, predicted


def samples_section(result: TrainResult) -> Section | None:
    """The first validation images, titled with their true and predicted labels."""
    seen = _validation(result)
    if seen is None:
        return None
    raw, _, y, predicted = seen
    names = result.data.class_names
    shown = range(min(SAMPLES, len(y)))
    titles = [f"true {names[int(y[k])]}, said {names[int(predicted[k])]}" for k in shown]
    colours = [RIGHT if y[k] == predicted[k] else WRONG for k in shown]
    wrong = sum(c == WRONG for c in colours)
    fig = image_grid(raw[: len(titles)], titles, f"The first {len(titles)} validation images: "
                     f"{wrong} wrong (in red)", columns=6, colours=colours)  # fmt: skip
    note = (
        "<p>Each image as the dataset holds it (before standardization), titled with its true "
        "label and the kept model's prediction; the validation images are never trained on.</p>"
    )
    return Section("Sample images", figure_html(fig, "validation images and labels") + note)


def confused_section(result: TrainResult) -> Section | None:
    """The most frequent mistakes on the validation images, with examples of the top three."""
    seen = _validation(result)
    if seen is None:
        return None
    raw, _, y, predicted = seen
    names = result.data.class_names
    pairs = most_confused(y, predicted, len(names), TOP_PAIRS)
    if not pairs:
        return Section("Most confused classes", "<p>No validation image was misclassified.</p>")
    rows = [
        [names[p.true], names[p.predicted], str(p.count), f"{100 * p.share:.1f}%"] for p in pairs
    ]
    header = ["true class", "predicted as", "images", "share of the true class"]
    body = table_html(header, rows)
    for p in pairs[:3]:
        at = ((y == p.true) & (predicted == p.predicted)).nonzero().flatten()[:EXAMPLES]
        title = f"true {names[p.true]}, predicted {names[p.predicted]}"
        fig = image_grid(raw[at], [f"#{int(i)}" for i in at], title, columns=EXAMPLES)
        body += figure_html(fig, html.escape(title))
    wrong = int((y != predicted).sum())
    body += (
        f"<p>{wrong} of {len(y)} validation images are misclassified; the table lists the "
        "most frequent (true, predicted) pairs (the off-diagonal cells of the confusion matrix), "
        "and the figures show those images, numbered by their position in the validation "
        "split.</p>"
    )
    return Section("Most confused classes", body)
