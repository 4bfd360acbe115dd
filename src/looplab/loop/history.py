"""The record of a run: one row per epoch (a list of dicts, or a CSV file), and the notes the
run made for the user (diagnoses, early stopping, rollbacks) as records."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Row = dict[str, float]

# Columns that measure the machine rather than the training; they differ between identical runs.
TIMING_COLUMNS = ("time_s", "samples_per_s")


@dataclass(frozen=True)
class Note:
    """One thing a run tells the user, as a record: its ``kind`` (``plateau``, ``early
    stopping``...), what was seen (``text``, with its numbers), what to try (``advice``), when,
    and the measured ``numbers`` behind it. ``str(note)`` is the line the user reads (a note of
    no kind is its text alone)."""

    kind: str
    text: str
    advice: str = ""
    epoch: int | None = None
    step: int | None = None
    numbers: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        line = f"{self.kind}: {self.text}" if self.kind else self.text
        return line + (f"; {self.advice}" if self.advice else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "advice": self.advice,
            "epoch": self.epoch,
            "step": self.step,
            "numbers": dict(self.numbers),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Note:
        return cls(
            str(d["kind"]),
            str(d["text"]),
            str(d.get("advice", "")),
            d.get("epoch"),
            d.get("step"),
            {str(k): float(v) for k, v in dict(d.get("numbers") or {}).items()},
        )


@dataclass
class History:
    """Per-epoch rows such as ``{"epoch": 1, "train_loss": 0.31, "val_loss": 0.29, ...}``.

    ``notes`` keeps what the run told the user, in order; each kind at most once where the
    teller says so (diagnoses do), but every rollback is its own note.
    """

    rows: list[Row] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def append(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def note(self, note: Note) -> Note:
        """Record ``note`` (in order)."""
        self.notes.append(note)
        return note

    @property
    def messages(self) -> list[str]:
        """The notes as the lines the user reads."""
        return [str(n) for n in self.notes]

    def notes_of(self, kind: str) -> list[Note]:
        """The notes of one kind, in order."""
        return [n for n in self.notes if n.kind == kind]

    def state_dict(self) -> dict[str, Any]:
        """Rows and notes as plain values (for a checkpoint)."""
        return {"rows": self.to_dicts(), "notes": [n.to_dict() for n in self.notes]}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> History:
        notes = [Note.from_dict(n) for n in state.get("notes", [])]
        return cls([dict(r) for r in state["rows"]], notes)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __getitem__(self, i: int) -> Row:
        return self.rows[i]

    def column(self, name: str) -> list[float]:
        """One metric over epochs (NaN where an epoch has no such value)."""
        return [row.get(name, math.nan) for row in self.rows]

    def columns(self) -> list[str]:
        """Every column name, in the order they first appear."""
        names: dict[str, None] = {}
        for row in self.rows:
            names.update(dict.fromkeys(row))
        return list(names)

    @property
    def seconds(self) -> float:
        """Time spent in the epochs (training and validation), summed over every epoch of the
        run, resumed parts included: what "N epochs in S s" means wherever it is shown."""
        return sum(t for t in self.column("time_s") if math.isfinite(t))

    @property
    def last(self) -> Row:
        return self.rows[-1] if self.rows else {}

    def to_dicts(self) -> list[Row]:
        """The rows as plain dicts (copies), ready for json or pandas."""
        return [dict(row) for row in self.rows]

    def to_csv(self, path: Path) -> None:
        """Write the rows as CSV with a header; missing values are empty cells."""
        path.write_text(self.to_csv_text(), newline="")

    def to_csv_text(self) -> str:
        """The CSV of :meth:`to_csv` as text (to be written atomically by the caller)."""
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=self.columns(), restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        return buffer.getvalue()

    @classmethod
    def from_csv(cls, path: Path) -> History:
        """Read a history written by :meth:`to_csv` (a last line cut short by a crash, one
        without its newline or its cells, is left out rather than read as wrong numbers)."""
        with path.open(newline="") as f:
            text = f.read()
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines = lines[:-1]
        reader = csv.reader(lines)
        header = next(reader, [])
        rows = [
            {k: float(v) for k, v in zip(header, cells, strict=True) if v != ""}
            for cells in reader
            if len(cells) == len(header)
        ]
        return cls(rows)

    def without_timing(self) -> list[Row]:
        """Rows minus wall-clock columns: what two identical runs must agree on exactly."""
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in self.rows]
