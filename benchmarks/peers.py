"""looplab against its peers: the same data, model, optimizer, epochs and metric on every side;
each side's training time and final validation accuracy, as ratios to a plain hand-written
PyTorch slicing loop.

Run from a fresh clone (the peers are a benchmark-only dependency group)::

    uv run --group bench python benchmarks/peers.py [--repeats 3] [--big] [--threads 1]

The sides (``benchmarks/peer_sides.py``): the plain slicing loop (the baseline), ``looplab.fit``
(autograd, and ``engine="manual"``), the same loop over ``DataLoader(TensorDataset)``, PyTorch
Lightning, skorch, scikit-learn's ``MLPClassifier`` and Keras 3 on the torch backend. A peer that
is not installed is named and skipped. Every side shuffles each epoch and validates after each.

Sections:

1. the default job (moons, 1,000 rows, 2-16-16-1, Adam 0.01, batch 32, 100 epochs) and
2. 20,000 x 64 -> 128 -> 10 at batch 64, 3 epochs, with SGD (0.05) and with Adam (0.001):
   all sides in this process, interleaved, best of ``--repeats`` (wall and CPU seconds);
3. scaling with rows (10k, 100k; 1M with ``--big``; 64 -> 128 -> 10) and width (64 -> W -> 10,
   W = 32, 256; 1024 with ``--big``), batch 256, Adam 0.001, 1 epoch: each side and size in a
   fresh process, for its peak memory (``ru_maxrss``) besides its time;
4. start-up: each side's whole process (imports, data, one epoch of the default job), and
   ``looplab train --epochs 1``, against ``python -c "import torch"``.

Sections 3 and 4 run first: a process's peak memory counts its parent's at the fork, so this
process imports nothing heavy until it has started them all.

All torch-based sides run with ``--threads`` torch threads (default 1: these models are small,
and one thread is fastest on a busy 2-core machine; ``benchmarks/threads.py``), scikit-learn
with as many BLAS threads. Timings on a shared machine are noisy: compare the ratios, and the
load printed at the top.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from peer_sides import SIDES, Workload

BASELINE = "slicing loop"
# what a side's process imports before it is measured ("training MiB" leaves these out);
# torch.optim's own classes import torch._dynamo on first use, so the torch-based peers load it;
# looplab's optimizers do not (run/dynamo_free.py), so its side does not preload it
PRELOAD = {
    "torch": ["torch", "torch._dynamo"],
    "looplab": ["torch", "looplab.run.fit"],
    "lightning": ["torch", "torch._dynamo", "lightning"],
    "skorch": ["torch", "torch._dynamo", "skorch"],
    "sklearn": ["sklearn.neural_network"],
    "keras": ["torch", "torch._dynamo", "keras"],
}


@dataclass
class Result:
    wall: list[float]
    cpu: list[float]
    accuracy: float = float("nan")
    peak_mib: float = float("nan")
    training_mib: float = float("nan")  # peak above the process's size after imports and data


# ---- data: made once, in files, so that fresh processes read the same rows -----------------


def make_data(directory: Path, big: bool) -> None:
    """The default job's moons split (looplab's own) and Gaussian 'teacher' data sets, made in
    another process: this one stays small (see :func:`fresh_process`)."""
    flags = ["--big"] if big else []
    subprocess.run([sys.executable, __file__, "--make-data", str(directory), *flags], check=True)


def write_data(directory: Path, big: bool) -> None:
    write_moons(directory)
    for rows in [10_000, 20_000, 100_000, *([1_000_000] if big else [])]:
        rng = np.random.default_rng(rows)
        X = rng.standard_normal((rows + rows // 5, 64), dtype=np.float32)
        y = (X @ rng.standard_normal((64, 10), dtype=np.float32)).argmax(axis=1)  # a teacher
        np.savez(
            directory / f"teacher{rows}.npz", X=X[:rows], y=y[:rows], X_val=X[rows:], y_val=y[rows:]
        )


def write_moons(directory: Path) -> None:
    """moons as ``looplab train`` prepares it: 800 training rows, 200 validation, standardized."""
    from looplab.config import Config
    from looplab.data.prepared import load_prepared
    from looplab.data.split import Split

    data = load_prepared(Config())
    assert isinstance(data.train, Split) and isinstance(data.val, Split)
    np.savez(
        directory / "moons.npz",
        X=data.train.X.numpy(),
        y=data.train.y.long().numpy(),
        X_val=data.val.X.numpy(),
        y_val=data.val.y.long().numpy(),
    )


def workload(directory: Path, spec: dict[str, Any]) -> Workload:
    arrays = np.load(directory / f"{spec['data']}.npz")
    return Workload(
        spec["name"],
        arrays["X"],
        arrays["y"],
        arrays["X_val"],
        arrays["y_val"],
        tuple(spec["hidden"]),
        spec["optimizer"],
        spec["lr"],
        spec["batch"],
        spec["epochs"],
    )


DEFAULT_JOB = dict(
    name="default job",
    data="moons",
    hidden=[16, 16],
    optimizer="adam",
    lr=0.01,
    batch=32,
    epochs=100,
)


# ---- measuring -------------------------------------------------------------------------


def accuracy(w: Workload, predict: Any) -> float:
    return float((predict(w.X_val) == w.y_val).mean())


def in_process(sides: list[str], w: Workload, repeats: int, threads: int) -> dict[str, Result]:
    """Every side on ``w``, interleaved, ``repeats`` times: wall and CPU seconds of training."""
    import torch

    torch.set_num_threads(threads)
    warm_up = Workload(w.name, w.X, w.y, w.X_val, w.y_val, w.hidden, w.optimizer, w.lr, w.batch, 1)
    for side in sides:  # one epoch each first: what a library imports on first use is not timed
        SIDES[side][0](warm_up, threads=threads)
    results = {side: Result([], []) for side in sides}
    for _ in range(repeats):
        for side in sides:
            train = SIDES[side][0]
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            predict = train(w, threads=threads)
            results[side].wall.append(time.perf_counter() - wall)
            results[side].cpu.append(time.process_time() - cpu)
            results[side].accuracy = accuracy(w, predict)
    return results


def child(side: str, directory: Path, spec: dict[str, Any], threads: int) -> None:
    """One side, one workload, in this fresh process: print its figures as JSON."""
    import resource

    os.environ["KERAS_BACKEND"] = "torch"
    module = SIDES[side][1]
    for name in PRELOAD[module]:  # imported before the start figure: it measures the training
        importlib.import_module(name)
    if module != "sklearn":
        import torch

        torch.set_num_threads(threads)
    w = workload(directory, spec)
    start_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall, cpu = time.perf_counter(), time.process_time()
    predict = SIDES[side][0](w, threads=threads)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "accuracy": accuracy(w, predict),
        "start_mib": start_mib,
        "peak_mib": peak_mib,
    }
    print("RESULT " + json.dumps(figures))


def fresh_process(argv: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak MiB and output of a command run as its own process (this
    process must stay small: a child's peak counts its parent's memory at the fork)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{text}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def child_argv(side: str, directory: Path, spec: dict[str, Any], threads: int) -> list[str]:
    return [
        sys.executable,
        __file__,
        "--child",
        side,
        "--data-dir",
        str(directory),
        "--spec",
        json.dumps(spec),
        "--threads",
        str(threads),
    ]


def in_fresh_processes(
    sides: list[str], directory: Path, spec: dict[str, Any], threads: int
) -> dict[str, Result]:
    """Each side in its own process: time, accuracy and memory (the process's own peak when
    training ends, and how far it rose from its size after imports and data)."""
    results = {}
    for side in sides:
        _, _, _, text = fresh_process(child_argv(side, directory, spec, threads))
        figures = json.loads(text.split("RESULT ", 1)[1].splitlines()[0])
        results[side] = Result(
            [figures["wall"]],
            [figures["cpu"]],
            figures["accuracy"],
            figures["peak_mib"],
            figures["peak_mib"] - figures["start_mib"],
        )
    return results


# ---- printing --------------------------------------------------------------------------


def table(title: str, results: dict[str, Result], memory: bool = False) -> None:
    base = results.get(BASELINE)
    print(f"\n### {title}\n")
    head = "| side | wall s | x loop | CPU s | x loop | val accuracy | - loop's |"
    rule = "|---|---:|---:|---:|---:|---:|---|"
    if memory:
        head += " peak MiB | training MiB |"
        rule += "---:|---:|"
    print(head)
    print(rule)
    for side, r in results.items():
        wall, cpu = min(r.wall), min(r.cpu)
        x_wall = f"{wall / min(base.wall):.2f}" if base else "-"
        x_cpu = f"{cpu / min(base.cpu):.2f}" if base else "-"
        same = f"{r.accuracy - base.accuracy:+.3f}" if base else "-"
        line = (
            f"| {side} | {wall:.3f} | {x_wall} | {cpu:.3f} | {x_cpu} | {r.accuracy:.4f} | {same} |"
        )
        if memory:
            line += f" {r.peak_mib:.0f} | {r.training_mib:.0f} |"
        print(line)
    print("\nThe PyTorch-based sides start from the same initial weights; scikit-learn and Keras")
    print("from their own (Glorot), so after few epochs their accuracy differs more.")


def startup(sides: list[str], directory: Path, threads: int, repeats: int) -> None:
    """Whole processes: the floor, each side's one-epoch default job, and the looplab command."""
    spec = {**DEFAULT_JOB, "epochs": 1}
    runs: dict[str, list[tuple[float, float, float]]] = {}
    looplab = str(Path(sys.executable).with_name("looplab"))
    commands = {"python -c 'import torch' (floor)": [sys.executable, "-c", "import torch"]}
    for side in sides:
        commands[side] = child_argv(side, directory, spec, threads)
    out = str(directory / "runs")
    commands["looplab train --epochs 1 (the CLI)"] = [
        looplab,
        "train",
        "--epochs",
        "1",
        "--out",
        out,
    ]
    for _ in range(repeats):  # run after the other sections: the caches are warm
        for name, argv in commands.items():
            wall, cpu, peak, _ = fresh_process(argv)
            runs.setdefault(name, []).append((wall, cpu, peak))
    floor = runs["python -c 'import torch' (floor)"]
    print("\n### Start-up: whole processes (imports, data, 1 epoch of the default job)\n")
    print("Peak MiB here is the whole process's (os.wait4), interpreter exit included: for")
    print("`import torch` it is ~130 MiB above the peak the process sees before it exits.\n")
    print("| process | wall s | x floor | CPU s | x floor | peak MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    fw, fc = min(w for w, _, _ in floor), min(c for _, c, _ in floor)
    for name, figures in runs.items():
        wall, cpu, peak = (min(f[i] for f in figures) for i in range(3))
        print(
            f"| {name} | {wall:.2f} | {wall / fw:.2f} | {cpu:.2f} | {cpu / fc:.2f} | {peak:.0f} |"
        )


def available(sides: list[str]) -> list[str]:
    """The sides whose libraries are installed; say which are not."""
    here = []
    for side in sides:
        module = SIDES[side][1]
        if importlib.util.find_spec(module) is None:
            print(
                f"{side}: not installed ({module}); skipped. Install the peers with "
                "`uv run --group bench python benchmarks/peers.py`"
            )
        else:
            here.append(side)
    return here


def versions() -> str:
    found = []
    for package in ("torch", "numpy", "scikit-learn", "lightning", "skorch", "keras"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="in-process runs (best shown)")
    parser.add_argument("--big", action="store_true", help="scaling up to 1M rows, width 1024")
    parser.add_argument("--threads", type=int, default=1, help="torch / BLAS threads per side")
    parser.add_argument("--sections", default="default,wide,scaling,startup")
    parser.add_argument("--sides", default=",".join(SIDES), help="comma-separated side names")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--make-data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_data:
        return write_data(Path(args.make_data), args.big)
    if args.child:
        return child(args.child, Path(args.data_dir), json.loads(args.spec), args.threads)

    sections = args.sections.split(",")
    began = time.perf_counter()
    load = os.getloadavg()[0]
    print(f"# looplab and its peers — {time.strftime('%Y-%m-%d %H:%M')}")
    print(
        f"\n{os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()}, "
        f"{versions()}; load average {load:.1f}; {args.threads} thread(s) per side"
    )
    sides = available(args.sides.split(","))
    with tempfile.TemporaryDirectory(prefix="looplab-peers-") as tmp:
        directory = Path(tmp)
        make_data(directory, args.big)
        if "scaling" in sections:
            for rows in [10_000, 100_000, *([1_000_000] if args.big else [])]:
                spec = dict(
                    name=f"{rows} rows",
                    data=f"teacher{rows}",
                    hidden=[128],
                    optimizer="adam",
                    lr=0.001,
                    batch=256,
                    epochs=1,
                )
                results = in_fresh_processes(sides, directory, spec, args.threads)
                table(
                    f"Scaling: {rows:,} rows x 64 -> 128 -> 10, batch 256, Adam, 1 epoch "
                    "(fresh process per side)",
                    results,
                    memory=True,
                )
            for width in [32, 256, *([1024] if args.big else [])]:
                spec = dict(
                    name=f"width {width}",
                    data="teacher20000",
                    hidden=[width],
                    optimizer="adam",
                    lr=0.001,
                    batch=256,
                    epochs=1,
                )
                results = in_fresh_processes(sides, directory, spec, args.threads)
                table(
                    f"Scaling: 20,000 rows x 64 -> {width} -> 10, batch 256, Adam, 1 epoch "
                    "(fresh process per side)",
                    results,
                    memory=True,
                )
        if "startup" in sections:
            startup(sides, directory, args.threads, args.repeats)
        if "default" in sections:
            w = workload(directory, DEFAULT_JOB)
            table(
                "The default job: moons 800 + 200 rows, 2-16-16-1, Adam 0.01, batch 32, 100 epochs",
                in_process(sides, w, args.repeats, args.threads),
            )
        if "wide" in sections:
            for optimizer, lr in (("sgd", 0.05), ("adam", 0.001)):
                spec = dict(
                    name="wide",
                    data="teacher20000",
                    hidden=[128],
                    optimizer=optimizer,
                    lr=lr,
                    batch=64,
                    epochs=3,
                )
                w = workload(directory, spec)
                table(
                    f"20,000 x 64 -> 128 -> 10, batch 64, {optimizer} {lr}, 3 epochs",
                    in_process(sides, w, args.repeats, args.threads),
                )
    minutes = (time.perf_counter() - began) / 60
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}; this took {minutes:.1f} min")


if __name__ == "__main__":
    main()
