"""The one-line messages about a CSV file's columns: unusable ones, bad cells, missing values.

Each message names every column at fault at once (a file should not need one run per problem)
and ends with the flags that fix it, typed as a shell needs them; long lists are cut short.
"""

from __future__ import annotations

import re

import torch

from looplab.data.csv_file import clip, drop_flag

SHOWN = 6  # columns described one by one in a message; the rest are counted
MAX_FLAG_CHARS = 200  # a longer --drop suggestion is not worth typing
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")


def unusable_message(path: str, problems: list[tuple[str, str, str]], drop: list[str]) -> str:
    """Columns that cannot be features, as (name, short reason, sentence), and how to drop them."""
    names = [name for name, _, _ in problems]
    if len(problems) == 1:
        name, _, sentence = problems[0]
        return f"column {clip(name)!r} {sentence}; leave it out with {drop_flag([*drop, name])}"
    listed = ", ".join(f"{clip(name)!r} ({reason})" for name, reason, _ in problems[:SHOWN])
    more = f" and {len(problems) - SHOWN:,} more" if len(problems) > SHOWN else ""
    return (
        f"{len(problems):,} columns of CSV file {path!r} cannot be used as features: "
        f"{listed}{more}; {_leave_out(names, drop)}"
    )


def bad_cells_message(
    path: str,
    bad: dict[str, dict[str, list[int]]],
    target: str,
    drop: list[str],
    *,
    labels_hint: bool = True,
) -> str:
    """Numeric columns with cells that are not usable numbers: which values, on which lines.

    ``labels_hint`` adds that --task multiclass reads a bad target as class labels instead.
    """
    parts = []
    for column, cells in list(bad.items())[:3]:
        count = sum(len(lines) for lines in cells.values())
        values = ", ".join(f"{clip(v, 20)!r} ({_lines(ls)})" for v, ls in list(cells.items())[:3])
        if len(cells) > 3:
            values += f" and {len(cells) - 3:,} more values"
        kind = "target" if column == target else "column"
        parts.append(f"{kind} {clip(column)!r} has {_count(count, 'such cell')}: {values}")
    if len(bad) > 3:
        parts.append(f"and {len(bad) - 3:,} more columns")
    tokens = [v for cells in bad.values() for v in cells]
    hints = []
    if any(_DECIMAL_COMMA.match(v) for v in tokens):
        hints.append("write decimals with a point (12.5, not 12,5)")
    if any(_is_number(v) for v in tokens):
        hints.append("inf and numbers beyond 3.4e38 do not fit in float32")
    hint = f" ({'; '.join(hints)})" if hints else ""
    features = [c for c in bad if c != target]
    fixes = ["write numbers in those cells"]
    if features:
        fixes.append("empty them to make them missing (--impute mean fills those)")
        fixes.append(_leave_out(features, drop))
    if target in bad:
        fixes.append(f"empty the {clip(target)!r} cells to drop their rows")
        if labels_hint:
            fixes.append(f"if {clip(target)!r} holds class labels, use --task multiclass")
    return (
        f"CSV file {path!r} has cells that are not usable numbers in numeric columns{hint}: "
        f"{'; '.join(parts)}; {', or '.join(fixes)}"
    )


def missing_summary(names: list[str], missing: torch.Tensor, drop: list[str]) -> str:
    """', mostly from ...' naming the columns behind rows with missing values, and the fixes.

    ``missing`` is (rows, columns) True where a cell is missing; '' when none is.
    """
    counts = missing.sum(dim=0).tolist()
    n_rows = int(missing.any(dim=1).sum())
    worst = sorted((j for j, c in enumerate(counts) if c), key=lambda j: -counts[j])[:3]
    if not worst:
        return ""
    impute = "--impute mean fills them with the training mean instead"
    top = worst[0]
    if counts[top] * 2 >= n_rows:
        then = ", ".join(f"{clip(names[j])!r} {counts[j]:,}" for j in worst[1:])
        only_top = int((missing[:, top] & (missing.sum(dim=1) == 1)).sum())
        keep = ""
        if only_top:
            keep = f"{drop_flag([*drop, names[top]])} keeps {only_top:,} of them, or "
        return (
            f", mostly from {clip(names[top])!r} ({counts[top]:,} empty"
            f"{'; then ' + then if then else ''}); {keep}{impute}"
        )
    listed = ", ".join(f"{clip(names[j])!r} {counts[j]:,}" for j in worst)
    others = sum(1 for c in counts if c) - len(worst)
    more = f" and {_count(others, 'more column')}" if others else ""
    return f" (empty cells in {listed}{more}); {impute}"


def _leave_out(names: list[str], drop: list[str]) -> str:
    flag = drop_flag([*drop, *names])
    if len(flag) <= MAX_FLAG_CHARS:
        return f"leave {'it' if len(names) == 1 else 'them'} out with {flag}"
    return (
        f"leave all {len(names):,} out with --drop (too long to show here) "
        "or keep only the columns you need in the file"
    )


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:3])
    more = f" and {len(lines) - 3:,} more" if len(lines) > 3 else ""
    return f"line{'s' if len(lines) > 1 else ''} {shown}{more}"


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
