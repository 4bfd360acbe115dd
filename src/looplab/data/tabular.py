"""Your own data from a CSV file, made usable: one-hot strings, class labels, missing values.

A real CSV is messy. Numeric columns become features as they are; string columns with a few
distinct values become one-hot features; a string target becomes class labels. Columns that
cannot be used (dates, free text, all empty) are named together in one error that says how to
drop them all, and a numeric column with a few bad cells ("unknown", "inf", 1e39) is refused with
the values and their lines instead of silently becoming a category. The encoding is returned with
the data so that predictions encode new rows the same way.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch

from looplab.data.csv_file import columns_hint, read_rows, read_table
from looplab.data.csv_messages import (
    bad_cells_message,
    missing_summary,
    unusable_message,
)
from looplab.data.task_data import TaskData
from looplab.errors import DataError

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
MAX_CATEGORIES = 20  # a string column with more distinct values is free text, not a category
MAX_CLASSES_FOR_NUMBERS = 10  # a whole-number target with this many values or fewer is a label
FLOAT32_MAX = 3.4028234663852886e38  # larger numbers become inf in a float32 tensor
# A column of numbers with a few other cells is numeric with bad cells, not a category:
BAD_SHARE = 0.05  # at most this share of its cells are not numbers,
BAD_DISTINCT = 3  # or at most this many distinct non-numbers (and numbers are the majority)
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
    name, header, drop = table.path, table.header, drop or []
    for column in [target, *drop]:
        if column not in header:
            flag = "--target" if column == target else "--drop"
            raise DataError(
                f"CSV file {name!r} has no column {column!r} ({flag}); "
                f"{columns_hint(column, header)}"
            )
    notes: list[str] = []
    # rows without a target cannot teach anything, whatever --impute says
    kept = [i for i, r in enumerate(table.rows) if not _is_missing(r[target])]
    if not kept:
        raise DataError(
            f"target {target!r} is empty in every row of CSV file {name!r}; choose another --target"
        )
    if len(kept) < len(table.rows):
        notes.append(
            f"dropped {len(table.rows) - len(kept)} of {len(table.rows)} rows "
            f"with no {target!r} value"
        )
    rows = [table.rows[i] for i in kept]
    lines = [table.lines[i] for i in kept]
    features = [h for h in header if h != target and h not in drop]
    if not features:
        raise DataError(f"CSV file {name!r} has no feature columns left besides {target!r}")

    columns, problems, bad = _type_columns(features, rows, lines)
    if problems:
        raise DataError(unusable_message(name, problems, drop))
    if task in ("auto", "regression"):
        values = [r[target] for r in rows]  # all present: rows without one were dropped
        target_bad = _numeric_cells(values, values, lines)
        if target_bad:
            bad = {target: target_bad, **bad}
    if bad:
        raise DataError(bad_cells_message(name, bad, target, drop, labels_hint=task == "auto"))
    encoding: dict[str, Any] = {"columns": columns, "target": target, "dropped": list(drop)}

    X = encode_features(rows, encoding)  # (rows, features); NaN where a value is missing
    missing = _missing_by_column(columns, X)  # (rows, columns)
    missing_rows = missing.any(dim=1)
    n_missing = int(missing_rows.sum())
    where = missing_summary([str(c["name"]) for c in columns], missing, drop)
    if n_missing and impute == "drop":
        notes.append(f"dropped {n_missing} of {len(rows)} rows with missing values{where}")
        X = X[~missing_rows]
        rows = [r for r, m in zip(rows, missing_rows.tolist(), strict=True) if not m]
    elif n_missing:
        notes.append(
            f"{n_missing} rows have missing values; they are filled with the training mean"
        )
    if not rows:
        raise DataError(
            f"CSV file {name!r} has no complete rows left after dropping missing values{where}"
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


def _type_columns(
    names: list[str], rows: list[dict[str, str]], lines: list[int]
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]], dict[str, dict[str, list[int]]]]:
    """Each column's encoding; the unusable ones (name, short reason, sentence); bad cells."""
    columns: list[dict[str, Any]] = []
    problems: list[tuple[str, str, str]] = []
    bad: dict[str, dict[str, list[int]]] = {}
    for name in names:
        values = [r[name] for r in rows]
        present = [v for v in values if not _is_missing(v)]
        if not present:
            problems.append((name, "empty", "is empty in every row"))
        elif (numeric := _numeric_cells(present, values, lines)) is not None:
            columns.append({"name": name, "kind": "numeric"})
            if numeric:
                bad[name] = numeric
        elif sum(bool(_DATE.match(v)) for v in present) > len(present) / 2:
            problems.append((name, "dates", "holds dates, which cannot be used as features"))
        elif len(categories := sorted(set(present))) > MAX_CATEGORIES:
            problems.append(
                (
                    name,
                    f"free text, {len(categories)} distinct values",
                    f"looks like free text ({len(categories)} distinct values; "
                    f"at most {MAX_CATEGORIES} can be one-hot encoded)",
                )
            )
        else:
            columns.append({"name": name, "kind": "onehot", "categories": categories})
    return columns, problems, bad


def _numeric_cells(
    present: list[str], values: list[str], lines: list[int]
) -> dict[str, list[int]] | None:
    """None if a column holds strings; else its bad cells (value -> file lines), {} if none.

    ``values`` are the column's cells, ``lines`` their file lines, ``present`` the non-missing.

    A bad cell is a non-finite or too large number, or a word among mostly numbers: few enough
    (at most BAD_SHARE of the cells, or BAD_DISTINCT distinct words) to be mistakes.
    """
    try:  # the common case, all good numbers, at the speed of float()
        if all(-FLOAT32_MAX <= float(v) <= FLOAT32_MAX for v in present):
            return {}
    except ValueError:
        pass
    bad: dict[str, list[int]] = {}
    words: set[str] = set()
    n_words, n_present = 0, len(present)
    for value, line in zip(values, lines, strict=True):
        if _is_missing(value):
            continue
        kind = _cell_kind(value)
        if kind == "number":
            continue
        bad.setdefault(value, []).append(line)
        if kind == "word":
            words.add(value)
            n_words += 1
    if n_words:
        mostly_numbers = n_words * 2 < n_present
        few = n_words <= BAD_SHARE * n_present or len(words) <= BAD_DISTINCT
        if not (mostly_numbers and few):
            return None
    return bad


def _cell_kind(value: str) -> str:
    """'number' (finite and within float32), 'bad number' (inf, 1e39) or 'word'."""
    try:
        x = float(value)
    except ValueError:
        return "word"
    return "number" if -FLOAT32_MAX <= x <= FLOAT32_MAX else "bad number"  # NaN: bad


def _missing_by_column(columns: list[dict[str, Any]], X: torch.Tensor) -> torch.Tensor:
    """(rows, columns) True where a column's value is missing (its first feature is NaN)."""
    starts, at = [], 0
    for col in columns:
        starts.append(at)
        at += len(_feature_names(col))
    return torch.isnan(X[:, starts]).reshape(len(X), len(columns))


def _feature_names(col: dict[str, Any]) -> list[str]:
    if col["kind"] == "numeric":
        return [str(col["name"])]
    return [f"{col['name']}={c}" for c in col["categories"]]


def _encode_target(values: list[str], name: str, task: str) -> tuple[torch.Tensor, Any, list[str]]:
    numeric = all(_cell_kind(v) == "number" for v in values)
    if task == "regression" or (task == "auto" and numeric and not _few_whole_numbers(values)):
        if not numeric:
            bad = next(v for v in values if _cell_kind(v) != "number")
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


def _number(value: str, column: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise DataError(f"column {column!r} should be numeric but has {value!r}") from None
    if not -FLOAT32_MAX <= x <= FLOAT32_MAX:
        raise DataError(
            f"column {column!r} has {value!r}, which is not a finite float32 number; "
            "write a number (at most 3.4e38 in size) or leave the cell empty"
        )
    return x
