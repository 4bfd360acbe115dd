"""Data-parallel step time on this machine: 1 and 2 ranks, two model sizes, and the all-reduce's
share of each step (issue 12, follow-up).

Each job is spawned processes joined through a ``FileStore`` (gloo on the CPU, as the tests do),
one torch thread a rank. A step is what ``looplab.loop.fit`` does with a DDP model: forward, BCE
loss, ``zero_grad``, backward (DDP all-reduces the gradients, averaged over ranks), Adam step,
on the rank's share of the global batch (``--batch-size`` is the global batch: 2 ranks take half
each). Three timings per job, each the best of ``--repeats`` chunks of steps, wall clock between
two barriers:

- ``step``: the DDP step as trained;
- ``no DDP``: the same step on a copy of the model that DDP never wrapped (no hooks, no
  all-reduce): the compute alone (DDP's hooks sit on the wrapped model's own parameters, so
  the copy is needed);
- ``all-reduce``: ``dist.all_reduce`` of one flat float32 tensor of the gradient's size,
  timed apart (DDP sends the gradient in 25 MB buckets, here a single one).

Models: the default MLP 2-16-16-1 on moons (1,000 rows, global batch 32) and a 1024-wide MLP
64-1024-1024-1 on synthetic 64-feature data (global batch 256). Run::

    uv run python benchmarks/data_parallel.py [--repeats 5] [--figure docs/scaling-out.png]

``--figure`` also draws the scaling model of docs/scaling-out.md from the measured one-rank step
times (:func:`looplab.plots.scaling.scaling_figure`).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from rich.console import Console
from rich.table import Table
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Workload:
    name: str
    features: int
    hidden: tuple[int, ...]
    rows: int
    global_batch: int
    steps: int  # per timed chunk


WORKLOADS = (
    Workload("MLP 2-16-16-1, moons", 2, (16, 16), 1000, 32, 200),
    Workload("MLP 64-1024-1024-1", 64, (1024, 1024), 8192, 256, 20),
)


@dataclass(frozen=True)
class Timing:
    workload: str
    world: int
    parameters: int
    step_s: float  # one DDP step, the slowest rank's chunk / steps
    plain_s: float  # the same step on the unwrapped model: no DDP hooks, no all-reduce
    all_reduce_s: float  # all-reduce of one gradient-sized float32 tensor


def network(w: Workload) -> nn.Module:
    torch.manual_seed(0)
    widths = (w.features, *w.hidden)
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], 1))


def data(w: Workload) -> tuple[Tensor, Tensor]:
    if w.features == 2:
        from sklearn.datasets import make_moons

        X_np, y_np = make_moons(w.rows, noise=0.2, random_state=0)
        return torch.tensor(X_np, dtype=torch.float32), torch.tensor(y_np, dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(w.rows, w.features, generator=g)  # (rows, features)
    return X, (X[:, 0] * X[:, 1] > 0).float()  # (rows,)


def timed(runs: list[Callable[[], None]], repeats: int) -> list[float]:
    """Best of ``repeats`` chunks of each of ``runs``, taken in turn (so a busy spell slows
    them alike), each between two barriers (every rank waits for the last)."""
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for i, run in enumerate(runs):
            dist.barrier()
            start = time.perf_counter()
            run()
            dist.barrier()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


loss_fn = nn.BCEWithLogitsLoss()


def job(rank: int, world: int, store_file: str, out_file: str, repeats: int) -> None:
    torch.set_num_threads(1)
    store = dist.FileStore(store_file, world)  # type: ignore[attr-defined]
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world)
    results = []
    for w in WORKLOADS:
        model = network(w)
        plain = copy.deepcopy(model)  # its own parameters: DDP's autograd hooks are on model's
        ddp = DistributedDataParallel(model)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        plain_opt = torch.optim.Adam(plain.parameters(), lr=0.01)
        X, y = data(w)
        local = w.global_batch // world
        g = torch.Generator().manual_seed(3)
        order = torch.randperm(w.rows, generator=g)[rank::world]
        Xr, yr = X[order], y[order]
        batches = [(Xr[i : i + local], yr[i : i + local])
                   for i in range(0, len(Xr) - local + 1, local)]  # fmt: skip

        def steps(sync: bool, w: Workload = w, batches: list[tuple[Tensor, Tensor]] = batches,
                  ddp: nn.Module = ddp, plain: nn.Module = plain,
                  opts: tuple[torch.optim.Optimizer, ...] = (opt, plain_opt)) -> None:  # fmt: skip
            net, opt = (ddp, opts[0]) if sync else (plain, opts[1])
            for i in range(w.steps):
                xb, yb = batches[i % len(batches)]
                loss = loss_fn(net(xb).squeeze(-1), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()

        flat = torch.zeros(sum(p.numel() for p in model.parameters()))  # (parameters,)

        def reduce_many(flat: Tensor = flat, n: int = w.steps) -> None:
            for _ in range(n):
                dist.all_reduce(flat)

        runs: list[Callable[[], None]] = [lambda: steps(True), lambda: steps(False), reduce_many]
        for run in runs:  # warm up: DDP's buckets built, allocations made
            run()
        step, plain_s, all_reduce = (t / w.steps for t in timed(runs, repeats))
        results.append(Timing(w.name, world, flat.numel(), step, plain_s, all_reduce))
    if rank == 0:
        Path(out_file).write_text(json.dumps([asdict(t) for t in results]))
    dist.destroy_process_group()


def measure(world: int, repeats: int) -> list[Timing]:
    with tempfile.TemporaryDirectory() as tmp:
        store, out = Path(tmp) / "store", Path(tmp) / "out.json"
        mp.spawn(  # type: ignore[attr-defined,no-untyped-call]
            job, args=(world, str(store), str(out), repeats), nprocs=world, join=True
        )
        return [Timing(**t) for t in json.loads(out.read_text())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--figure", type=Path, default=None, help="draw the scaling model here")
    parser.add_argument("--save", type=Path, default=None, help="write the timings (JSON) here")
    parser.add_argument("--load", type=Path, default=None, help="read timings, do not measure")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    if args.load is not None:
        timings = [Timing(**t) for t in json.loads(args.load.read_text())]
    else:
        timings = [t for world in (1, 2) for t in measure(world, args.repeats)]
    if args.save is not None:
        args.save.write_text(json.dumps([asdict(t) for t in timings], indent=1))
    one = {t.workload: t for t in timings if t.world == 1}
    table = Table(title="data-parallel steps (gloo, CPU, 1 torch thread a rank)")
    columns = ("model", "params", "ranks", "global batch", "step ms", "samples/s", "vs 1 rank",
               "no DDP ms", "all-reduce ms", "1 - no DDP/step", "all-reduce/step")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    batch = {w.name: w.global_batch for w in WORKLOADS}
    for t in timings:
        share = 1 - t.plain_s / t.step_s
        table.add_row(
            t.workload, f"{t.parameters:,}", str(t.world), str(batch[t.workload]),
            f"{t.step_s * 1e3:.3f}", f"{batch[t.workload] / t.step_s:,.0f}",
            f"{one[t.workload].step_s / t.step_s:.2f}x", f"{t.plain_s * 1e3:.3f}",
            f"{t.all_reduce_s * 1e3:.3f}", f"{share:.0%}", f"{t.all_reduce_s / t.step_s:.0%}",
        )  # fmt: skip
    console = Console(width=150)
    console.print(table)
    console.print(
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    console.print(
        "DDP's share of a step, two estimates: 1 - no DDP/step (DDP's hooks and all-reduce; "
        "noisy: a difference of two timings), and the all-reduce timed apart / step"
    )
    if args.figure is not None:
        from looplab.plots.scaling import scaling_figure
        from looplab.plots.style import save

        models = {t.workload: (t.step_s, 4 * t.parameters, batch[t.workload])
                  for t in one.values()}  # fmt: skip
        save(scaling_figure(models), str(args.figure))
        console.print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
