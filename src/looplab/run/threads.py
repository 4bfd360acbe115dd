r"""How many CPU threads torch uses for a run: one for small work, more only when it pays.

A training step of a small model is a few tiny matrix products: handing each to a second
thread costs more than it saves, and on a busy machine far more (measured: an epoch of the
default job took 19.7 s with torch's default of 2 threads on 2 busy cores, 0.32 s with 1).
Large steps (a 1024-wide layer, a batch of thousands) do gain from more threads on an idle
machine. So ``threads = 0`` (auto) means:

- one thread when the step's work, $\text{parameters} \times \text{batch rows}$ (about the
  multiply-adds of a forward pass), is below :data:`SMALL_WORK`;
- otherwise torch's default count, less the cores other processes are busy on right now
  (runnable tasks from ``/proc/loadavg``, sampled a few times), and at least one.

The threshold and the rule are measured by ``benchmarks/threads.py`` (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

SMALL_WORK = 4_000_000  # parameters x batch rows: below this, one thread is fastest


def step_work(model: nn.Module, batch_rows: int) -> int:
    """Parameters x batch rows: about the multiply-adds of one forward pass of an MLP."""
    return sum(p.numel() for p in model.parameters()) * batch_rows


def busy_cores(samples: int = 5, interval: float = 0.002) -> float:
    """How many cores other processes use now: runnable tasks less this process's own,
    averaged over a few samples of ``/proc/loadavg`` (0 where the system does not tell).
    This process's own threads are left out: torch's OpenMP workers spin for a while after a
    parallel region and would count as another program (measured: auto then took 1 thread on
    an idle machine, 1.6-1.8x slower than 2 for a 1024-wide MLP)."""
    path = Path("/proc/loadavg")
    counts = []
    for i in range(samples):
        try:
            running = int(path.read_text().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        counts.append(max(0, running - own_running_threads()))
        if i + 1 < samples:
            time.sleep(interval)
    return sum(counts) / len(counts)


def own_running_threads() -> int:
    """This process's threads that are running or runnable now (at least this one)."""
    running = 0
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]  # after "pid (name)"
        except (OSError, IndexError):
            continue
        running += state == "R"
    return max(1, running)


def auto_threads(model: nn.Module, batch_rows: int, cores: int | None = None) -> int:
    """The thread count for training ``model`` on batches of ``batch_rows`` (see the module)."""
    if step_work(model, batch_rows) < SMALL_WORK:
        return 1
    cores = cores or torch.get_num_threads()
    return max(1, min(cores, round(cores - busy_cores())))


@contextmanager
def torch_threads(count: int) -> Iterator[int]:
    """Within the block torch uses ``count`` threads; the previous count comes back after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(previous)
