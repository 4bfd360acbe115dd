"""Your own 2-D data: a small CSV of ``x1, x2, label`` rows, read with strict limits.

The file is parsed here, never evaluated; it is kept in memory under its content hash (the id
the page's URL holds), in a store that forgets the oldest files past :data:`MAX_UPLOADS`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from looplab.errors import DataError
from looplab.playground.settings import MAX_CLASSES, MAX_POINTS

MAX_BYTES = 256 * 1024
MIN_ROWS = 10
MAX_UPLOADS = 32


class UploadError(DataError):
    """A CSV the playground cannot use; the message names the row and the fix."""


@dataclass(frozen=True)
class Upload:
    """An uploaded CSV: points (n, 2) as written, labels as text (read as classes or numbers
    when a run uses them), and the file's name for display."""

    id: str
    name: str
    x: np.ndarray  # (n, 2) float64
    labels: tuple[str, ...]

    def points(self, problem: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(x, y, class names)``: classes numbered in sorted order (numerically when every
        label is a number), or the labels as numbers for regression."""
        numbers = [_number(label) for label in self.labels]
        if problem == "regression":
            bad = next((i for i, v in enumerate(numbers) if v is None), None)
            if bad is not None:
                raise UploadError(
                    f"regression needs numeric labels, but row {bad + 1} of {self.name} has "
                    f"{self.labels[bad]!r}: choose classification, or fix the label"
                )
            return self.x, np.array(numbers, dtype=np.float64), []
        if all(v is not None for v in numbers):
            names = sorted(set(self.labels), key=lambda s: float(s))
        else:
            names = sorted(set(self.labels))
        if not 2 <= len(names) <= MAX_CLASSES:
            raise UploadError(
                f"classification needs 2 to {MAX_CLASSES} distinct labels, {self.name} has "
                f"{len(names)}: choose regression for numeric targets, or merge classes"
            )
        index = {name: i for i, name in enumerate(names)}
        y = np.array([index[label] for label in self.labels], dtype=np.int64)
        return self.x, y, names


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_csv(data: bytes, name: str = "upload.csv") -> Upload:
    """Read ``data`` as rows of ``x1, x2, label`` (a header row is allowed; comma, semicolon
    or tab separated). Raises :class:`UploadError` naming the first problem."""
    if len(data) > MAX_BYTES:
        raise UploadError(f"{name} has {len(data):,} bytes; the limit is {MAX_BYTES:,} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError(f"{name} is not UTF-8 text: save it as a plain CSV file") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise UploadError(f"{name} is empty: it needs rows of x1, x2, label")
    sep = next((s for s in (",", ";", "\t") if s in lines[0]), ",")
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=sep))
    if rows and (not rows[0] or _number(rows[0][0].strip()) is None):
        rows = rows[1:]  # a header
    if not MIN_ROWS <= len(rows) <= MAX_POINTS:
        raise UploadError(
            f"{name} has {len(rows)} data rows; the playground takes {MIN_ROWS} to {MAX_POINTS}"
        )
    x = np.empty((len(rows), 2))
    labels = []
    for i, row in enumerate(rows):
        cells = [c.strip() for c in row]
        if len(cells) != 3:
            raise UploadError(
                f"row {i + 1} of {name} has {len(cells)} values; each row is x1, x2, label"
            )
        for j in (0, 1):
            value = _number(cells[j])
            if value is None:
                raise UploadError(
                    f"row {i + 1} of {name}: x{j + 1} is {cells[j]!r}, not a finite number"
                )
            x[i, j] = value
        if not cells[2]:
            raise UploadError(f"row {i + 1} of {name} has no label")
        labels.append(cells[2][:40])
    digest = hashlib.sha256(data).hexdigest()[:16]
    return Upload(digest, name[:80], x, tuple(labels))


class UploadStore:
    """Uploaded files by id, the least recently used forgotten past ``limit``."""

    def __init__(self, limit: int = MAX_UPLOADS) -> None:
        self.limit = limit
        self._files: OrderedDict[str, Upload] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, upload: Upload) -> Upload:
        with self._lock:
            self._files[upload.id] = upload
            self._files.move_to_end(upload.id)
            while len(self._files) > self.limit:
                self._files.popitem(last=False)
        return upload

    def get(self, upload_id: str) -> Upload:
        with self._lock:
            upload = self._files.get(upload_id)
            if upload is None:
                raise UploadError(
                    f"no uploaded CSV with id {upload_id} on this server (it restarted, or the "
                    "link comes from another computer): upload the file again"
                )
            self._files.move_to_end(upload_id)
            return upload
