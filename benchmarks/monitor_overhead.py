"""Epoch time with per-layer monitors on vs off, on the default run, side by side in one process.

Run: uv run python benchmarks/monitor_overhead.py [--epochs 20] [--repeats 7] [--threads 1]

The default job of ``looplab train`` (MLP 2-16-16-1 on moons, 1000 rows, batch 32, Adam) is
trained from the same start with three callback sets, interleaved repeat by repeat so machine
load hits each alike:

- ``bare``: ``fit`` with no callbacks;
- ``off``: the always-on diagnoses (``Diagnoses()``: a finiteness check of each step's loss),
  which is what ``looplab train`` runs without ``--monitor``;
- ``on``: ``LayerMonitor()`` + ``Diagnoses(monitor)``, what ``--monitor`` adds;
- ``train off`` / ``train on``: the whole ``looplab train`` run (``pipeline.train``: run
  directory, history file, checkpoints, guard...) without and with ``--monitor``, timed from
  the start to the end of its ``fit`` (the report written afterwards is left out).

Each figure is (time of ``fit``) / epochs, so it includes the monitor's end-of-epoch work, by
two clocks: wall time, and this process's CPU time (``time.process_time``: what the run itself
spent, not the time it waited for a core on a shared machine). Ratios are given for the median
and for the best of the repeats. The issue's bar: on / off - 1 < 30%.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time

import torch

from looplab.config import Config
from looplab.data.prepared import PreparedData, load_prepared
from looplab.loop.events import Callback
from looplab.models import build_model
from looplab.pipeline import train
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.diagnoses import Diagnoses
from looplab.watch.monitors import LayerMonitor


def callbacks(variant: str) -> list[Callback]:
    if variant == "bare":
        return []
    if variant == "off":
        return [Diagnoses()]
    monitor = LayerMonitor()
    return [monitor, Diagnoses(monitor)]


class Timer(Callback):
    """Both clocks from the start of fit to its end (the report written after is left out)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def on_fit_start(self, state: object) -> None:  # type: ignore[override]
        self.started = {c: clock() for c, clock in CLOCKS.items()}

    def on_fit_end(self, state: object, history: object) -> None:  # type: ignore[override]
        self.spent = {c: clock() - self.started[c] for c, clock in CLOCKS.items()}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def timed_fit(variant: str, data: PreparedData, config: Config) -> dict[str, float]:
    """Seconds of one ``fit`` from the same initial weights, by both clocks."""
    timer = Timer()
    fit(build_model(model_spec(config, data), seed=0), data, config, [*callbacks(variant), timer])
    return timer.spent


def timed_train(variant: str, config: Config, out: str) -> dict[str, float]:
    """Seconds of the training loop of a whole ``looplab train`` run (progress bar excepted):
    run directory, history file, checkpoints, path recorder, guard, diagnoses."""
    timer = Timer()
    train(config.replace(monitor=variant == "train on", out=out), callbacks=[timer])
    return timer.spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = Config(epochs=args.epochs, device="cpu").validate()  # the default run otherwise
    data = load_prepared(config)
    steps = -(-len(data.train) // 32)  # type: ignore[arg-type]
    print(
        f"default run: moons {len(data.train)} train rows, MLP 2-16-16-1, batch 32 "  # type: ignore[arg-type]
        f"({steps} steps/epoch), {args.epochs} epochs x {args.repeats} repeats; "
        f"torch {torch.__version__}, {platform.machine()}, {torch.get_num_threads()} threads"
    )
    variants = ("bare", "off", "on", "train off", "train on")
    times = {(v, c): [] for v in variants for c in CLOCKS}  # type: dict[tuple[str, str], list[float]]
    with tempfile.TemporaryDirectory() as out:
        timed_fit("on", data, config.replace(epochs=2))  # warm-up
        for _ in range(args.repeats):
            for variant in variants:
                if variant.startswith("train"):
                    spent = timed_train(variant, config, out)
                else:
                    spent = timed_fit(variant, data, config)
                for c in CLOCKS:
                    times[variant, c].append(spent[c] / args.epochs * 1000)
    print(f"{'variant':<10} {'clock':<5} {'ms/epoch median':>16} {'best':>8} {'worst':>8}")
    for v in variants:
        for c in CLOCKS:
            t = times[v, c]
            print(f"{v:<10} {c:<5} {statistics.median(t):>16.3f} {min(t):>8.3f} {max(t):>8.3f}")
    for c in CLOCKS:
        for label, pick in (("median", statistics.median), ("best", min)):
            t = {v: pick(times[v, c]) for v in variants}
            print(
                f"{c:>4} {label:>6}: diagnoses vs bare fit {t['off'] / t['bare']:.3f}x; "
                f"monitors on/off: fit {t['on'] / t['off']:.3f}x, "
                f"looplab train {t['train on'] / t['train off']:.3f}x (bar: < 1.3x)"
            )


if __name__ == "__main__":
    main()
