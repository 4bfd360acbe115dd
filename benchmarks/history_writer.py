"""history.csv over a long run: one appended line per epoch vs the whole file rewritten.

Run: uv run python benchmarks/history_writer.py [--epochs 1000] [--columns 40] [--repeats 3]

Both write the same rows into a file after every epoch, as a 1000-epoch run with monitors does
(about 40 columns). The rewrite is what looplab did before (``History.to_csv`` every epoch);
the append is ``HistoryWriter``. CPU seconds, best of ``--repeats``; the ratio is the claim.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from looplab.loop.history import History, Row
from looplab.watch.history_writer import HistoryWriter


def rows(epochs: int, columns: int) -> list[Row]:
    return [
        {"epoch": float(e), **{f"col{c}": 1.0 / (e + c + 1) for c in range(columns - 1)}}
        for e in range(1, epochs + 1)
    ]


def rewrite_every_epoch(path: Path, all_rows: list[Row]) -> None:
    history = History()
    for row in all_rows:
        history.append(row)
        history.to_csv(path)


def append_every_epoch(path: Path, all_rows: list[Row]) -> None:
    history = History()
    writer = HistoryWriter(path)
    state: Any = SimpleNamespace(history=history)
    writer.on_fit_start(state)
    for e, row in enumerate(all_rows, 1):
        history.append(row)
        writer.on_epoch_end(state, e, row)


def best_cpu_seconds(fn: Any, path: Path, all_rows: list[Row], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        fn(path, all_rows)
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--columns", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    all_rows = rows(args.epochs, args.columns)
    with tempfile.TemporaryDirectory() as tmp:
        a = Path(tmp) / "a.csv"
        b = Path(tmp) / "b.csv"
        old = best_cpu_seconds(rewrite_every_epoch, a, all_rows, args.repeats)
        new = best_cpu_seconds(append_every_epoch, b, all_rows, args.repeats)
        assert History.from_csv(a).rows == History.from_csv(b).rows  # same file content
    print(f"{args.epochs} epochs x {args.columns} columns, CPU seconds (best of {args.repeats})")
    print(f"  rewrite every epoch: {old:.3f} s")
    print(f"  append every epoch:  {new:.3f} s")
    print(f"  ratio rewrite / append: {old / new:.1f}x")


if __name__ == "__main__":
    main()
