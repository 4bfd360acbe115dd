"""The record of a run: one row per epoch, as a list of dicts or a CSV file."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

Row = dict[str, float]

# Columns that measure the machine rather than the training; they differ between identical runs.
TIMING_COLUMNS = ("time_s", "samples_per_s")


@dataclass
class History:
    """Per-epoch rows such as ``{"epoch": 1, "train_loss": 0.31, "val_loss": 0.29, ...}``.

    ``messages`` keeps what the run said to the user (diagnoses, notes), in order.
    """

    rows: list[Row] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def append(self, row: Row) -> Row:
        self.rows.append(row)
        return row

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
    def last(self) -> Row:
        return self.rows[-1] if self.rows else {}

    def to_dicts(self) -> list[Row]:
        """The rows as plain dicts (copies), ready for json or pandas."""
        return [dict(row) for row in self.rows]

    def to_csv(self, path: Path) -> None:
        """Write the rows as CSV with a header; missing values are empty cells."""
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns(), restval="")
            writer.writeheader()
            writer.writerows(self.rows)

    @classmethod
    def from_csv(cls, path: Path) -> History:
        """Read a history written by :meth:`to_csv`."""
        with path.open(newline="") as f:
            rows = [
                {k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(f)
            ]
        return cls(rows)

    def without_timing(self) -> list[Row]:
        """Rows minus wall-clock columns: what two identical runs must agree on exactly."""
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in self.rows]
