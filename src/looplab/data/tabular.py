"""Your own data from a CSV file, made usable: one-hot strings, class labels, missing values.

A real CSV is messy. Numeric columns become features as they are; string columns with a few
distinct values become one-hot features; a string target becomes class labels. Columns that
cannot be used (dates, free text, all empty) are named in an error that says how to drop them.
The encoding is returned with the data so that predictions encode new rows the same way.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch

from looplab.data.csv_file import columns_hint, read_rows, read_table
from looplab.data.task_data import TaskData
from looplab.errors import DataError

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
MAX_CATEGORIES = 20  # a string column with more distinct values is free text, not a category
MAX_CLASSES_FOR_NUMBERS = 10  # a whole-number target with this many values or fewer is a label
_DATE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T].*)?$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")

__all__ = ["MISSING", "encode_features", "read_csv", "read_rows"]


def read_csv(
    path: str | Path,
    target: str,
    *,
    drop: list[str] | None = None,
    impute: str = "drop",
    task: str = "auto",
    sep: str | None = None,
) -> TaskData:
    """Load ``path`` with ``target`` as the label column; see the module docstring for the rules.

    ``sep`` is the separator as ``--sep`` spells it (None: detected from the file).
    """
    table = read_table(path, sep)
    header, rows = table.header, table.rows
    drop = drop or []
    for name in [target, *drop]:
        if name not in header:
            flag = "--target" if name == target else "--drop"
            raise DataError(
                f"CSV file {str(path)!r} has no column {name!r} ({flag}); "
                f"{columns_hint(name, header)}"
            )
    notes: list[str] = []
    # rows without a target cannot teach anything, whatever --impute says
    kept = [r for r in rows if not _is_missing(r.get(target, ""))]
    if len(kept) < len(rows):
        notes.append(
            f"dropped {len(rows) - len(kept)} of {len(rows)} rows with no {target!r} value"
        )
    rows = kept
    features = [h for h in header if h != target and h not in drop]
    if not features:
        raise DataError(f"CSV file {str(path)!r} has no feature columns left besides {target!r}")
    columns = [_describe_column(name, [r.get(name, "") for r in rows]) for name in features]
    encoding: dict[str, Any] = {"columns": columns, "target": target, "dropped": list(drop)}

    X = encode_features(rows, encoding)  # (rows, features); NaN where a value is missing
    missing_rows = torch.isnan(X).any(dim=1)
    n_missing = int(missing_rows.sum())
    if n_missing and impute == "drop":
        notes.append(
            f"dropped {n_missing} of {len(rows)} rows with missing values "
            "(--impute mean fills them with the training mean instead)"
        )
        X = X[~missing_rows]
        rows = [r for r, m in zip(rows, missing_rows.tolist(), strict=True) if not m]
    elif n_missing:
        notes.append(
            f"{n_missing} rows have missing values; they are filled with the training mean"
        )
    if not rows:
        raise DataError(
            f"CSV file {str(path)!r} has no complete rows left after dropping missing values"
        )

    y, resolved, class_names = _encode_target([r[target] for r in rows], target, task)
    encoding["classes"] = class_names
    feature_names = [n for col in columns for n in _feature_names(col)]
    return TaskData(
        f"csv:{Path(path).name}", X, y, resolved, feature_names, class_names, encoding, notes
    )


def encode_features(rows: list[dict[str, str]], encoding: dict[str, Any]) -> torch.Tensor:
    """Encode CSV rows into a float tensor (rows, features) as ``encoding`` says; NaN = missing.

    Used for training data and for new rows at prediction time, so both are encoded alike.
    A category never seen in training becomes all zeros in its one-hot group.
    """
    out: list[list[float]] = []
    for row in rows:
        values: list[float] = []
        for col in encoding["columns"]:
            raw = row.get(col["name"])
            if raw is None:
                raise DataError(f"the input has no column {col['name']!r}, which the model needs")
            if col["kind"] == "numeric":
                values.append(math.nan if _is_missing(raw) else _number(raw, col["name"]))
            elif _is_missing(raw):
                values.extend([math.nan] * len(col["categories"]))
            else:
                values.extend(1.0 if raw == c else 0.0 for c in col["categories"])
        out.append(values)
    return torch.tensor(out, dtype=torch.float32).reshape(len(rows), -1)


def _describe_column(name: str, values: list[str]) -> dict[str, Any]:
    present = [v for v in values if not _is_missing(v)]
    fix = f"leave it out with --drop {name}"
    if not present:
        raise DataError(f"column {name!r} is empty in every row; {fix}")
    if all(_parses(v) for v in present):
        return {"name": name, "kind": "numeric"}
    if sum(bool(_DATE.match(v)) for v in present) > len(present) / 2:
        raise DataError(f"column {name!r} holds dates, which cannot be used as features; {fix}")
    categories = sorted(set(present))
    if len(categories) > MAX_CATEGORIES:
        raise DataError(
            f"column {name!r} looks like free text ({len(categories)} distinct values; "
            f"at most {MAX_CATEGORIES} can be one-hot encoded); {fix}"
        )
    return {"name": name, "kind": "onehot", "categories": categories}


def _feature_names(col: dict[str, Any]) -> list[str]:
    if col["kind"] == "numeric":
        return [str(col["name"])]
    return [f"{col['name']}={c}" for c in col["categories"]]


def _encode_target(values: list[str], name: str, task: str) -> tuple[torch.Tensor, Any, list[str]]:
    numeric = all(_parses(v) for v in values)
    if task == "regression" or (task == "auto" and numeric and not _few_whole_numbers(values)):
        if not numeric:
            bad = next(v for v in values if not _parses(v))
            raise DataError(
                f"target {name!r} has non-numeric value {bad!r}, so it cannot be regressed; "
                "use --task multiclass (or binary) to treat it as class labels"
            )
        return torch.tensor([float(v) for v in values]), "regression", []
    if numeric:
        classes = [_short(c) for c in sorted({float(v) for v in values})]
        labels = [_short(float(v)) for v in values]
    else:
        classes = sorted(set(values))
        labels = values
    if len(classes) < 2:
        raise DataError(
            f"target {name!r} has a single value {classes[0]!r}; there is nothing to learn"
        )
    resolved = task if task != "auto" else ("binary" if len(classes) == 2 else "multiclass")
    if resolved == "binary" and len(classes) != 2:
        raise DataError(
            f"target {name!r} has {len(classes)} classes, so it is not binary; "
            "use --task multiclass"
        )
    index = {c: i for i, c in enumerate(classes)}
    return torch.tensor([index[v] for v in labels]), resolved, classes


def _few_whole_numbers(values: list[str]) -> bool:
    numbers = {float(v) for v in values}
    return len(numbers) <= MAX_CLASSES_FOR_NUMBERS and all(x.is_integer() for x in numbers)


def _short(x: float) -> str:
    return str(int(x)) if x.is_integer() else str(x)


def _is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING


def _parses(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _number(value: str, column: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise DataError(f"column {column!r} should be numeric but has {value!r}") from None
    if not math.isfinite(x):
        raise DataError(f"column {column!r} has a non-finite value {value!r}")
    return x
