"""Predictions from a saved run for new rows, encoded and standardized as in training.

Each row is checked before it reaches the model: a value that is not a finite number, a
category the model never saw in training (its one-hot group would be all zeros: the model
would answer with confidence about nothing), or a row with every feature empty gets no
prediction but a ``problem`` saying why; the other rows are predicted as usual. A feature left
empty in an otherwise good row is filled with the training mean, as in training, and noted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from looplab.config import FLOAT32_MAX
from looplab.data.tabular import encode_features, read_rows
from looplab.errors import DataError, listing
from looplab.models.losses import predict_output
from looplab.run.saved import SavedRun, load_run

_EMPTY = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})  # as the CSV reader reads


@dataclass
class Predictions:
    """Columns (``prediction`` and, for classes, ``p(class)``) and one list of values per row;
    a row that could not be predicted has empty values and its reason in ``problems``, a row
    predicted with a filled-in feature says so in ``notes``."""

    columns: list[str]
    values: list[list[str | float]]
    problems: list[str] = field(default_factory=list)  # per row: "" when it was predicted
    notes: list[str] = field(default_factory=list)  # per row: what was filled in

    @property
    def skipped(self) -> list[int]:
        """0-based indices of the rows that got no prediction."""
        return [i for i, p in enumerate(self.problems) if p]


def _features(saved: SavedRun) -> list[dict[str, Any]]:
    """The model's input columns: ``{"name", "kind", "categories"?}`` for each."""
    if "columns" in saved.encoding:  # a CSV's encoding (an image's has its shape instead)
        return list(saved.encoding["columns"])
    return [{"name": name, "kind": "numeric"} for name in saved.feature_names]


def check_rows(
    saved: SavedRun, header: list[str], rows: list[dict[str, str]]
) -> tuple[list[str], list[str]]:
    """For each row: why it cannot be predicted (``""`` if it can), and what was filled in."""
    columns = _features(saved)
    missing = [c["name"] for c in columns if c["name"] not in header]
    if missing:
        raise DataError(
            f"the input CSV lacks the column(s) {listing(missing, 5)}; the model needs: "
            f"{listing([c['name'] for c in columns], 10)}"
        )
    problems, notes = [], []
    for row in rows:
        bad, empty = [], []
        for col in columns:
            raw = row.get(col["name"], "").strip()
            if raw.lower() in _EMPTY:
                empty.append(col["name"])
            elif col["kind"] == "numeric":
                bad += _number_problem(col["name"], raw)
            elif raw not in col["categories"]:
                seen = listing(col["categories"], 5)
                bad.append(f"{col['name']}={raw!r} was not seen in training (seen: {seen})")
        if len(empty) == len(columns):
            bad.append("every feature is empty")
        problems.append("; ".join(bad))
        notes.append(
            f"{listing(empty, 3)} empty: filled with the training mean" if empty and not bad else ""
        )
    return problems, notes


def _number_problem(name: str, raw: str) -> list[str]:
    try:
        x = float(raw)
    except ValueError:
        return [f"{name}={raw!r} is not a number"]
    if not math.isfinite(x):
        return [f"{name}={raw} is not a finite number"]
    if abs(x) > FLOAT32_MAX:
        return [f"{name}={raw} is beyond float32 (largest {FLOAT32_MAX:.4g})"]
    return []


def encode_input(saved: SavedRun, header: list[str], rows: list[dict[str, str]]) -> torch.Tensor:
    """Rows -> (rows, features) tensor, encoded and preprocessed as the training data was (the
    rows must have passed :func:`check_rows`); the pixel columns of an image model become
    (rows, C, H, W) images, scaled as in training."""
    image_shape = saved.encoding.get("image_shape")
    if "columns" in saved.encoding:
        X = encode_features(rows, saved.encoding)
    else:
        values = [
            [
                math.nan if r[f].strip().lower() in _EMPTY else float(r[f])
                for f in saved.feature_names
            ]
            for r in rows
        ]
        X = torch.tensor(values, dtype=torch.float32).reshape(len(rows), len(saved.feature_names))
        if image_shape is not None:  # grey levels as in the files -> the scale trained on
            X = X.reshape(len(X), *image_shape) / float(saved.encoding["pixel_scale"])
    return saved.preprocessor.transform(X) if saved.preprocessor else X


def _value(raw: str) -> float:
    return math.nan if raw.strip().lower() in _EMPTY else float(raw)  # NaN: the mean, later


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


def predict_checked(saved: SavedRun, header: list[str], rows: list[dict[str, str]]) -> Predictions:
    """Every row checked; the good ones predicted, the others left empty with their problem.
    A DataError when no row at all can be predicted."""
    problems, notes = check_rows(saved, header, rows)
    good = [i for i, p in enumerate(problems) if not p]
    if not good:
        shown = listing([f"row {i + 1}: {p}" for i, p in enumerate(problems)], 3)
        raise DataError(f"no row of the input can be predicted ({shown}); fix the input CSV")
    predicted = predict_saved(saved, encode_input(saved, header, [rows[i] for i in good]))
    values: list[list[str | float]] = [[""] * len(predicted.columns) for _ in rows]
    for i, row_values in zip(good, predicted.values, strict=True):
        values[i] = row_values
    return Predictions(predicted.columns, values, problems, notes)


def predict_rows(
    run: str | Path, input_csv: str | Path
) -> tuple[list[str], list[dict[str, str]], Predictions]:
    """Read a run and a CSV file; return the CSV's header, its rows and their predictions."""
    saved = load_run(run)
    header, rows = read_rows(input_csv)
    return header, rows, predict_checked(saved, header, rows)
