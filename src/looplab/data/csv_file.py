"""Reading a CSV file into a header and rows: its encoding, its separator and its quoting.

Real files are separated by commas, tabs, semicolons, pipes or runs of spaces. Unless told
(``sep``), the separator is the one that splits the header into several columns and the most
rows of a sample into as many fields as the header (runs of spaces only when no other does).
Quoted fields keep line breaks and unusual characters (U+2028, form feeds, ...) exactly: the
text is never split into lines first.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import gc
import io
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from looplab.config import SEPARATORS
from looplab.errors import DataError

_FLAG = {",": "','", ";": "';'", "\t": "tab", "|": "'|'", " ": "space"}  # how to type --sep
_DELIMITERS = (",", "\t", ";", "|")  # tried in this order; whitespace runs only if none fits
_SAMPLE_CHARS = 65_536
_SAMPLE_RECORDS = 200
_STRIP = " \t\r\n"  # a cell's padding; other characters (U+2028, \x0b, ...) are content
_WORDS = re.compile(r'"((?:[^"]|"")*)"|([^ \t\r\n]+)|(\r\n|\r|\n)|[ \t]+')
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class Table:
    """The rows of a CSV file as ``{column: cell}`` dicts, and the file line each starts on."""

    path: str
    header: list[str]
    rows: list[dict[str, str]]
    lines: list[int]  # 1-based line of the file where each row starts
    sep: str


def read_table(path: str | Path, sep: str | None = None) -> Table:
    """Read ``path`` with separator ``sep`` (a spelling in SEPARATORS; None: detect it).

    Unnamed columns with no values (from separators at the ends of lines) are left out; a row
    with more values than the header has names is refused rather than silently cut.
    """
    name = str(path)
    text = _read_text(Path(path))
    delimiter = SEPARATORS[sep] if sep is not None else detect_separator(text)
    with _gc_paused():
        return _table(name, _records(text, delimiter, name), delimiter)


def _table(name: str, records: list[tuple[int, list[str]]], delimiter: str) -> Table:
    """The Table of a file's records: header checked, rows as dicts of stripped cells."""
    if not records:
        raise DataError(f"CSV file {name!r} is empty; it needs a header row and data rows")
    header = [h.strip(_STRIP) for h in records[0][1]]
    keep = [j for j, h in enumerate(header) if h or any(_cell(f, j) for _, f in records[1:])]
    _check_widths(name, len(header), records[1:], delimiter)
    header = [header[j] for j in keep]
    _check_header(name, header, delimiter)
    width, every = len(keep), len(keep) == len(records[0][1])
    rows = [
        dict(
            zip(
                header,
                [c.strip(_STRIP) for c in f]
                if every and len(f) == width
                else [_cell(f, j) for j in keep],
                strict=True,
            )
        )
        for _, f in records[1:]
    ]
    if not rows:
        raise DataError(f"CSV file {name!r} has a header but no data rows")
    return Table(name, header, rows, [line for line, _ in records[1:]], delimiter)


def read_rows(path: str | Path, sep: str | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a CSV file, or a DataError that says what is wrong with it."""
    table = read_table(path, sep)
    return table.header, table.rows


def detect_separator(text: str) -> str:
    """The separator of a CSV text: see the module docstring; ',' when nothing splits it."""
    sample = text[:_SAMPLE_CHARS]
    if len(text) > _SAMPLE_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    best, best_key = ",", (0.0, 0)
    for delimiter in _DELIMITERS:
        key = _fit(sample, delimiter)
        if key > best_key:
            best, best_key = delimiter, key
    # runs of spaces only when no delimiter splits the header, or none splits the rows alike
    words = _fit(sample, " ")
    if words[1] and (best_key[1] == 0 or (best_key[0] < 0.9 <= words[0])):
        best = " "
    return best


def columns_hint(wrong: str, header: list[str], shown: int = 8) -> str:
    """'its columns are: ...' for a short header; the closest few names and a count otherwise."""
    if len(header) <= shown:
        return f"its columns are: {', '.join(clip(printable(h)) for h in header)}"
    close = difflib.get_close_matches(wrong, header, n=5, cutoff=0.6)
    names = ", ".join(clip(printable(n)) for n in (close or header[:5]))
    which = "the closest are" if close else "the first are"
    rest = len(header) - len(close or header[:5])
    return f"it has {len(header):,} columns; {which}: {names} ... and {rest:,} more"


def drop_flag(names: list[str]) -> str:
    """``--drop a,b`` as it must be typed in a shell (quoted when a name needs it)."""
    return f"--drop {shlex.quote(','.join(printable(n) for n in names))}"


def printable(name: str) -> str:
    """``name`` with line breaks and other unprintable characters escaped, as repr() does."""
    return name if name.isprintable() else repr(name)[1:-1]


def clip(name: str, width: int = 40) -> str:
    """A column name short enough for a one-line message."""
    return name if len(name) <= width else name[: width - 3] + "..."


def _read_text(file: Path) -> str:
    name = str(file)
    try:
        # newline="": line breaks inside quoted fields reach the csv parser untranslated
        with file.open(encoding="utf-8-sig", newline="") as f:
            return f.read()
    except FileNotFoundError:
        raise DataError(f"CSV file {name!r} does not exist; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{name!r} is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise DataError(f"CSV file {name!r} is not UTF-8 text; save it as UTF-8 CSV") from None
    except OSError as exc:
        raise DataError(f"CSV file {name!r} cannot be read: {exc.strerror}") from None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: reading makes a few small lists and dicts per row,
    none in a cycle, and its passes over them doubled the time to read 200,000 rows (1.2 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _records(text: str, delimiter: str, name: str) -> list[tuple[int, list[str]]]:
    """(first line, fields) of every non-blank record, parsed with ``delimiter``."""
    if delimiter == " ":
        return [(line, fields) for line, fields in _word_records(text) if any(fields)]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for fields in reader:
            if len(fields) > 1 or (fields and fields[0].strip(_STRIP)):  # not blank
                records.append((start, fields))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(
            f"CSV file {name!r} cannot be parsed at line {start} ({exc}); "
            'check for an unclosed quote (")'
        ) from None
    return records


def _word_records(text: str, limit: int | None = None) -> list[tuple[int, list[str]]]:
    """Records separated by runs of spaces and tabs; "quoted fields" may hold any character."""
    records: list[tuple[int, list[str]]] = []
    fields: list[str] = []
    line = start = 1
    for m in _WORDS.finditer(text):
        quoted, word, newline = m.group(1), m.group(2), m.group(3)
        if newline is not None:
            if fields:
                records.append((start, fields))
                if limit is not None and len(records) >= limit:
                    return records
            fields = []
            line += 1
        elif quoted is not None or word is not None:
            if not fields:
                start = line
            fields.append(word if quoted is None else quoted.replace('""', '"'))
            if quoted is not None:
                line += len(_LINE_BREAK.findall(quoted))
    if fields:
        records.append((start, fields))
    return records


def _fit(sample: str, delimiter: str) -> tuple[float, int]:
    """(share of rows with as many fields as the header, header fields); (0, 0) under 2."""
    try:
        if delimiter == " ":
            records = [f for _, f in _word_records(sample, _SAMPLE_RECORDS)]
        else:
            reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
            records = []
            for fields in reader:
                if len(fields) > 1 or (fields and fields[0].strip(_STRIP)):
                    records.append(fields)
                if len(records) >= _SAMPLE_RECORDS:
                    break
    except csv.Error:
        return 0.0, 0
    if not records or len(records[0]) < 2:
        return 0.0, 0
    width, rows = len(records[0]), records[1:]
    share = sum(len(r) == width for r in rows) / len(rows) if rows else 1.0
    return share, width


def _check_header(name: str, header: list[str], delimiter: str) -> None:
    if len(header) == 1:
        joined = next((s for s in ("\t", ";", "|") if s in header[0]), None)
        if joined is None and re.search(r"\S {2,}\S", header[0]):
            joined = " "
        if joined is not None and joined != delimiter:
            raise DataError(
                f"CSV file {name!r} has a header that looks like one joined column "
                f"({clip(header[0])!r}): its separator seems to be {_FLAG[joined]}, "
                f"not {_FLAG[delimiter]}; pass --sep {_FLAG[joined]}"
            )
    seen: dict[str, list[int]] = {}
    for position, column in enumerate(header, start=1):
        seen.setdefault(column, []).append(position)
    twice = [(column, where) for column, where in seen.items() if len(where) > 1]
    if twice:
        listed = "; ".join(f"{clip(c)!r} (columns {_positions(where)})" for c, where in twice[:5])
        more = f"; and {len(twice) - 5:,} more" if len(twice) > 5 else ""
        raise DataError(
            f"CSV file {name!r} has duplicate column names: {listed}{more}; "
            "rename one of each so every column has its own name"
        )


def _positions(where: list[int]) -> str:
    """'2, 7' or, for a name used very often, '2, 7, 9, 12, 15 and 995 more'."""
    shown = ", ".join(f"{n:,}" for n in where[:5])
    return shown + (f" and {len(where) - 5:,} more" if len(where) > 5 else "")


def _check_widths(
    name: str, width: int, records: list[tuple[int, list[str]]], delimiter: str
) -> None:
    """Refuse rows with values beyond the header's last column (short rows are padded)."""
    long = [
        (line, len(f))
        for line, f in records
        if len(f) > width and any(c.strip(_STRIP) for c in f[width:])
    ]
    if long:
        line, fields = long[0]
        others = len(long) - 1
        more = f" and {others:,} more row{'s' if others > 1 else ''}" if others else ""
        raise DataError(
            f"CSV file {name!r} has rows with more values than its header has names "
            f"(line {line:,} has {fields:,}, the header {width:,}{more}); quote cells that "
            f"hold the separator ({_FLAG[delimiter]}), name every column in the header, "
            "or pass the right --sep"
        )


def _cell(fields: list[str], j: int) -> str:
    """Cell ``j`` of a record without its padding; '' past the record's end."""
    return fields[j].strip(_STRIP) if j < len(fields) else ""
