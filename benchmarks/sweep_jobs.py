"""Sweep wall time with ``--jobs 1`` vs ``--jobs 2``, side by side in one process.

Run: uv run python benchmarks/sweep_jobs.py [--epochs 40] [--repeats 2]

The same sweep (the default job, an MLP 2-16-16-1 on moons with 1000 rows, Adam, with
``batch_size=16,32,64,128`` x 2 seeds: 8 runs) is run by ``run_sweep`` in one process and in two
worker processes (fork, one torch thread each), alternately, ``--repeats`` times each; the
figure is the best wall time of each, pool start-up included. Both give identical histories
(checked here too), so the ratio is the whole story of ``--jobs 2``.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from looplab.config import Config
from looplab.experiments.sweep import parse_vary, run_sweep, sweep_points

UNTIMED = ("time_s", "samples_per_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    base = Config(epochs=args.epochs).validate()
    points = sweep_points(base, [parse_vary("batch_size=16,32,64,128")], seeds=2)
    times: dict[int, list[float]] = {1: [], 2: []}
    histories: dict[int, list[list[dict[str, float]]]] = {}
    for _ in range(args.repeats):
        for jobs in (1, 2):
            started = time.perf_counter()
            outcomes = run_sweep(points, jobs=jobs)
            times[jobs].append(time.perf_counter() - started)
            histories[jobs] = [
                [{k: v for k, v in r.items() if k not in UNTIMED} for r in o.rows] for o in outcomes
            ]
    assert histories[1] == histories[2], "jobs 1 and jobs 2 must train identical runs"
    one, two = min(times[1]), min(times[2])
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} "
        f"torch threads by default, torch {torch.__version__}"
    )
    print(
        f"sweep: {len(points)} runs of the default job, {args.epochs} epochs each, "
        f"best of {args.repeats}"
    )
    print(f"--jobs 1: {one:.2f} s   (all: {', '.join(f'{t:.2f}' for t in times[1])})")
    print(f"--jobs 2: {two:.2f} s   (all: {', '.join(f'{t:.2f}' for t in times[2])})")
    print(f"speed-up of --jobs 2: {one / two:.2f}x; histories identical: yes")


if __name__ == "__main__":
    main()
