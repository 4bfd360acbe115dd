"""Loss-landscape grid evaluation on one torch thread vs the default two, side by side.

Run: uv run python benchmarks/landscape_threads.py [--resolution 21] [--repeats 3]

A landscape is thousands of tiny forward passes (the default job's MLP 2-16-16-1 on 800 rows,
one per grid point). ``looplab.inspect.landscape`` evaluates grids inside ``torch_threads(1)``; this
script times the same grid of ``LossAt`` calls with ``torch.set_num_threads(1)`` and with the
machine's default, alternately, and prints the best of each and the ratio.
"""

from __future__ import annotations

import argparse
import time

import torch

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.inspect.landscape import LossAt, filter_normalized_direction, fixed_batch
from looplab.models.mlp import build_model
from looplab.run.build import model_spec
from looplab.watch.path import flat_parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=21)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = Config().validate()
    data = load_prepared(config)
    model = build_model(model_spec(config, data), seed=0)
    X, y = fixed_batch(data)
    loss_at = LossAt(model, X, y, data.task)
    center = flat_parameters(model)
    g = torch.Generator().manual_seed(0)
    d1, d2 = filter_normalized_direction(model, g), filter_normalized_direction(model, g)
    steps = torch.linspace(-1, 1, args.resolution).tolist()
    default = torch.get_num_threads()
    times: dict[int, list[float]] = {default: [], 1: []}
    for _ in range(args.repeats):
        for threads in (default, 1):
            torch.set_num_threads(threads)
            started = time.perf_counter()
            for b in steps:
                for a in steps:
                    loss_at(center + a * d1 + b * d2)
            times[threads].append(time.perf_counter() - started)
    torch.set_num_threads(default)
    n = args.resolution**2
    print(f"{n} grid points, {len(X)} rows each, best of {args.repeats}")
    for threads, values in times.items():
        every = ", ".join(f"{v:.3f}" for v in values)
        print(f"{threads} thread(s): {min(values):.3f} s  (all: {every})")
    print(f"one thread is {min(times[default]) / min(times[1]):.1f}x faster")


if __name__ == "__main__":
    main()
