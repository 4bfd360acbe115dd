"""Predictions from a saved run for new rows, encoded and standardized as in training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from looplab.data.tabular import encode_features, read_rows
from looplab.errors import DataError
from looplab.models.losses import predict_output
from looplab.run.saved import SavedRun, load_run


@dataclass
class Predictions:
    """Columns (``prediction`` and, for classes, ``p(class)``) and one list of values per row."""

    columns: list[str]
    values: list[list[str | float]]


def encode_input(saved: SavedRun, header: list[str], rows: list[dict[str, str]]) -> torch.Tensor:
    """Rows -> (rows, features) tensor, encoded and preprocessed as the training data was."""
    if saved.encoding:
        X = encode_features(rows, saved.encoding)
    else:
        missing = [f for f in saved.feature_names if f not in header]
        if missing:
            raise DataError(
                f"the input CSV lacks the column(s) {', '.join(missing)}; "
                f"the model needs: {', '.join(saved.feature_names)}"
            )
        try:
            X = torch.tensor([[float(r[f]) for f in saved.feature_names] for r in rows])
        except ValueError as exc:
            raise DataError(f"the input CSV has a non-numeric feature value ({exc})") from None
    return saved.preprocessor.transform(X) if saved.preprocessor else X


def predict_saved(saved: SavedRun, X: torch.Tensor) -> Predictions:
    """Predictions with class names: the most likely class and each class's probability."""
    with torch.no_grad():
        out = predict_output(saved.model(X), saved.task)
    if saved.task == "regression":  # back in the target's units
        raw = saved.preprocessor.unscale_target(out) if saved.preprocessor else out
        return Predictions(["prediction"], [[float(v)] for v in raw])
    names = saved.class_names
    probs = torch.stack([1 - out, out], dim=1) if saved.task == "binary" else out  # (rows, classes)
    columns = ["prediction", *[f"p({n})" for n in names]]
    values: list[list[str | float]] = [
        [names[int(p.argmax())], *[float(x) for x in p]] for p in probs
    ]
    return Predictions(columns, values)


def predict_rows(
    run: str | Path, input_csv: str | Path
) -> tuple[list[str], list[dict[str, str]], Predictions]:
    """Read a run and a CSV file; return the CSV's header, its rows and their predictions."""
    saved = load_run(run)
    header, rows = read_rows(input_csv)
    return header, rows, predict_saved(saved, encode_input(saved, header, rows))
