"""What each line of ``fit``'s step costs on the manual engine's wide workload (issue 10 §2).

The workload of ``benchmarks/fit_speed.py``'s second table: 20,000 x 64 -> 128 -> 10, batch 64,
3 epochs, SGD lr 0.05, manual engine, no validation, one torch and one BLAS thread. The pieces
are the ones ``looplab.fit`` runs (``looplab.run.build.build`` makes them from the config), and
the step is run cut after each of its lines, in turn, in this one process:

    for xb, yb in batches.epoch():          # 1 the shuffled batch, gathered
        xb, yb = xb.to(device), yb.to(device)  # 2 no-ops on the CPU
        optimizer.zero_grad()               # 3
        logits = model(xb)                  # 4 the numpy forward (tensor in, tensor out)
        loss = loss_fn(logits, yb)          # 5 the numpy loss, as a tensor
        loss.backward()                     # 6 the hand-written backward into p.grad
        running.update(loss, logits, yb)    # 7 the epoch's loss and accuracy sums
        optimizer.step()                    # 8 the fused numpy SGD

then the whole ``looplab.fit``: on top, the kernel's bookkeeping and events (9) and, once a fit,
``build`` with its data checks (10, shown per step). Each line's
cost is the difference between the cut after it and the cut before, divided by the number of
steps (best of ``--repeats`` by CPU seconds). Two references beside them: the hand-written
numpy step in a bare loop over pre-cut batches (forward, loss, backward, ``p -= lr g``), and
the five matrix products alone. Run::

    uv run python benchmarks/fit_step_cost.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable

import torch
from fit_speed import (
    ROWS,
    WIDE_BATCH,
    WIDE_EPOCHS,
    bare_numpy_step,
    machine_line,
    matmul_bound,
    wide_config,
    wide_data,
    wide_model,
)
from rich.console import Console
from rich.table import Table

from looplab import PreparedData, fit
from looplab.loop.metrics import RunningMetrics
from looplab.run.build import build

LINES = (
    "for xb, yb in batches.epoch()",
    "xb.to(device), yb.to(device)",
    "optimizer.zero_grad()",
    "logits = model(xb)",
    "loss = loss_fn(logits, yb)",
    "loss.backward()",
    "running.update(loss, logits, yb)",
    "optimizer.step()",
)


def cut_after(line: int) -> Callable[[], None]:
    """A run of the step's first ``line`` lines (1-based) over the workload's epochs."""
    data, config = wide_data(), wide_config("sgd", "manual")
    built = build(wide_model(), data, config)
    model, loss_fn, optimizer, batches = built.model, built.loss_fn, built.optimizer, built.train
    device = built.device

    def run() -> None:
        with built.one_blas_thread():
            for _ in range(WIDE_EPOCHS):
                running = RunningMetrics(data.task)
                for xb, yb in batches.epoch():
                    if line >= 2:
                        xb, yb = xb.to(device), yb.to(device)
                    if line >= 3:
                        optimizer.zero_grad()
                    if line >= 4:
                        logits = model(xb)
                    if line >= 5:
                        loss = loss_fn(logits, yb)
                    if line >= 6:
                        loss.backward()
                    if line >= 7:
                        running.update(loss, logits, yb)
                    if line >= 8:
                        optimizer.step()

    return run


def whole_fit() -> Callable[[], None]:
    data, config, model = wide_data(), wide_config("sgd", "manual"), wide_model()

    def run() -> None:
        fit(model, data, config)

    return run


def build_only() -> Callable[[], None]:
    data, config = wide_data(), wide_config("sgd", "manual")
    model = wide_model()

    def run() -> None:
        build(model, data, config)

    return run


def reference(make: Callable[[PreparedData], Callable[[], float]]) -> Callable[[], None]:
    timed = make(wide_data())

    def run() -> None:
        timed()

    return run


def best_cpu(runs: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Best CPU seconds of each run, interleaved repeat by repeat, after one warm-up each."""
    for run in runs.values():
        run()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            gc.collect()
            gc.disable()
            started = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - started)
            gc.enable()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    torch.set_num_threads(1)
    load = os.getloadavg()
    runs = {f"cut after line {i}": cut_after(i) for i in range(1, len(LINES) + 1)}
    runs["build"] = build_only()
    runs["looplab.fit"] = whole_fit()
    runs["bare numpy step"] = reference(bare_numpy_step)
    runs["matrix products only"] = reference(matmul_bound)
    with threadpool_limits(limits=1, user_api="blas"):
        best = best_cpu(runs, args.repeats)
    steps = WIDE_EPOCHS * -(-ROWS // WIDE_BATCH)
    table = Table(title=f"fit's step, line by line: manual engine, SGD, {steps} steps")
    for col in ("line", "us a step", "cumulative us a step"):
        table.add_column(col, justify="left" if col == "line" else "right")
    before = 0.0
    for i, text in enumerate(LINES, start=1):
        now = best[f"cut after line {i}"]
        table.add_row(
            f"{i} {text}", f"{(now - before) / steps * 1e6:.1f}", f"{now / steps * 1e6:.1f}"
        )
        before = now
    whole, once = best["looplab.fit"], best["build"]
    kernel = (whole - once - before) / steps * 1e6
    table.add_row("9 the kernel's bookkeeping and events", f"{kernel:.1f}",
                  f"{(whole - once) / steps * 1e6:.1f}")  # fmt: skip
    table.add_row("10 build and checks, once a fit (per step)", f"{once / steps * 1e6:.1f}",
                  f"{whole / steps * 1e6:.1f}")  # fmt: skip
    for name in ("bare numpy step", "matrix products only"):
        table.add_row(f"[dim]{name}[/]", "", f"{best[name] / steps * 1e6:.1f}")
    console = Console(width=120)
    console.print(table)
    console.print(machine_line(args.repeats, load[0]))


if __name__ == "__main__":
    main()
