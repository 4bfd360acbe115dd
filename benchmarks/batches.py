"""Batches per second: looplab's slicing batches vs DataLoader(TensorDataset), side by side.

Run: uv run python benchmarks/batches.py [--rows 20000] [--features 20] [--threads 1]

Both iterate shuffled epochs over the same in-memory tensors. DataLoader fetches each row with
``__getitem__`` and stacks them with ``default_collate``; looplab gathers the epoch once with
``X[perm]`` and yields views. The ratio is what the claim in the README rests on.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable, Iterable

import torch
from torch.utils.data import DataLoader, TensorDataset

from looplab.data import Batches


def batches_per_second(
    make_epoch: Callable[[], Iterable[object]], min_seconds: float, repeats: int
) -> float:
    """Best of ``repeats`` measurements, each of whole epochs for at least ``min_seconds``."""
    best = 0.0
    for _ in range(repeats):
        count, started = 0, time.perf_counter()
        while True:
            for _batch in make_epoch():
                count += 1
            elapsed = time.perf_counter() - started
            if elapsed >= min_seconds:
                break
        best = max(best, count / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5, help="minimum time per measurement")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    X = torch.randn(args.rows, args.features)
    y = torch.randint(0, 2, (args.rows,)).float()
    print(
        f"{args.rows} rows x {args.features} features, float32, shuffled epochs; "
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"{'batch':>6} {'looplab batches/s':>18} {'DataLoader batches/s':>21} {'ratio':>7}")
    for batch_size in (1, 32, 256):
        looplab = Batches(X, y, batch_size, generator=torch.Generator().manual_seed(0))
        loader = DataLoader(
            TensorDataset(X, y),
            batch_size=batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(0),
        )
        fast = batches_per_second(looplab.epoch, args.seconds, args.repeats)
        slow = batches_per_second(lambda loader=loader: loader, args.seconds, args.repeats)
        print(f"{batch_size:>6} {fast:>18,.0f} {slow:>21,.0f} {fast / slow:>6.1f}x")


if __name__ == "__main__":
    main()
