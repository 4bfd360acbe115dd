"""looplab's automatic thread count against the best fixed one, quiet and on a busy machine.

Run: uv run python benchmarks/threads.py [--busy 0,2] [--repeats 3] [--epochs 3]

For each workload (the default job; a 1024-wide MLP; a big batch) and each machine condition
(``--busy K`` starts K CPU-bound processes for the measurement), the same training runs
through ``looplab.fit`` with 1 thread, with torch's default (all cores) and with ``threads=0``
(auto: ``looplab.run.threads.auto_threads``), interleaved, and prints the wall-clock seconds
(median of ``--repeats``) and auto's ratio to the best fixed count. The bar is auto <= 1.2x.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.loop.events import Callback
from looplab.loop.state import LoopState
from looplab.models.mlp import build_model
from looplab.run.build import model_spec
from looplab.run.fit import fit


@dataclass(frozen=True)
class Workload:
    name: str
    config: Config


WORKLOADS = [
    Workload("default job (moons, 2-16-16-1, batch 32)", Config(device="cpu")),
    Workload(
        "1024-wide MLP (digits, 64-1024-1024-10, batch 32)",
        Config(dataset="digits", hidden=[1024, 1024], device="cpu"),
    ),
    Workload(
        "big batch (blobs 20k rows, 2-256-256-4, batch 4096)",
        Config(dataset="blobs", n=20000, hidden=[256, 256], batch_size=4096, device="cpu"),
    ),
]


def spin() -> None:
    while True:
        pass


@contextmanager
def busy(processes: int) -> Iterator[None]:
    """``processes`` CPU-bound processes running for the duration."""
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(processes)]
    for p in spinners:
        p.start()
    try:
        time.sleep(1.0 if processes else 0.0)  # let the load average notice them
        yield
    finally:
        for p in spinners:
            p.terminate()
            p.join()


class SeenThreads(Callback):
    """The thread count torch ran the training steps with."""

    def __init__(self) -> None:
        self.count = 0

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: torch.Tensor) -> None:
        self.count = torch.get_num_threads()


def seconds(config: Config, threads: int) -> tuple[float, int]:
    """Wall-clock seconds of the run, and the thread count it trained with."""
    data = load_prepared(config)
    model = build_model(model_spec(config, data), seed=0)
    seen = SeenThreads()
    started = time.perf_counter()
    fit(model, data, config.replace(threads=threads), [seen])
    return time.perf_counter() - started, seen.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", default="0,2", help="competing CPU-bound processes, e.g. 0,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    cores = torch.get_num_threads()
    print(f"torch default threads: {cores}; load before: {os.getloadavg()[0]:.2f}")
    for competing in [int(b) for b in args.busy.split(",")]:
        with busy(competing):
            for work in WORKLOADS:
                config = work.config.replace(epochs=args.epochs)
                times: dict[str, list[float]] = {"1": [], str(cores): [], "auto": []}
                chosen: list[int] = []
                seconds(config.replace(epochs=1), 1)  # first-use costs (imports) out of the way
                for _ in range(args.repeats):
                    for label, threads in (("1", 1), (str(cores), cores), ("auto", 0)):
                        elapsed, count = seconds(config, threads)
                        times[label].append(elapsed)
                        if label == "auto":
                            chosen.append(count)
                median = {k: statistics.median(v) for k, v in times.items()}
                best = min(median["1"], median[str(cores)])
                picked = "/".join(map(str, chosen))
                print(
                    f"busy={competing} | {work.name} | 1 thread {median['1']:.3f} s | "
                    f"{cores} threads {median[str(cores)]:.3f} s | auto ({picked}) "
                    f"{median['auto']:.3f} s | auto / best = {median['auto'] / best:.2f}x"
                )


if __name__ == "__main__":
    main()
