"""What reliability costs: the divergence guard and checkpoints, side by side in one process.

Run: uv run python benchmarks/checkpoint_overhead.py [--epochs 20] [--repeats 5] [--threads 1]

The default job of ``looplab train`` (MLP 2-16-16-1 on moons, 1000 rows, batch 32 -> 25 steps
per epoch, Adam) is trained from the same start with these callback sets, interleaved repeat by
repeat so machine load hits each alike:

- ``bare``: ``fit`` with no callbacks;
- ``guard``: :class:`DivergenceGuard` (one fused finiteness check of the loss and every
  gradient per step);
- ``guard + ckpt/epoch``: plus a checkpoint every epoch (``--checkpoint-every 1``);
- ``guard + ckpt/5 steps``: plus a checkpoint every 5 steps (``--checkpoint-steps 5``);
- ``guard + ckpt/step``: a checkpoint after every step, the worst case.

Each checkpoint is written atomically (temporary file, flush, fsync, rename, fsync of the
directory), so its cost is mostly the disk's fsync. Figures are (time of ``fit``) / epochs by
wall clock and by this process's CPU time, median of the repeats, and the ratio to ``bare``.
Also printed: the size of one checkpoint, and the time to read and verify it (SHA-256 +
``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from looplab.config import Config
from looplab.data.prepared import PreparedData, load_prepared
from looplab.loop.events import Callback
from looplab.models import build_model
from looplab.run.build import model_spec
from looplab.run.fit import fit
from looplab.watch.checkpoint import read_checkpoint
from looplab.watch.checkpointer import Checkpointer
from looplab.watch.guard import DivergenceGuard

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
VARIANTS = ("bare", "guard", "guard + ckpt/epoch", "guard + ckpt/5 steps", "guard + ckpt/step")


def callbacks(variant: str, directory: Path) -> list[Callback]:
    every = {
        "guard + ckpt/epoch": (1, 0),
        "guard + ckpt/5 steps": (0, 5),
        "guard + ckpt/step": (0, 1),
    }
    out: list[Callback] = [] if variant == "bare" else [DivergenceGuard()]
    if variant in every:
        epochs, steps = every[variant]
        out.append(Checkpointer(directory, every_epochs=epochs, every_steps=steps, keep=3))
    return out


def timed_fit(variant: str, data: PreparedData, config: Config) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(model_spec(config, data), seed=0)
        cbs = callbacks(variant, Path(tmp))
        started = {c: clock() for c, clock in CLOCKS.items()}
        fit(model, data, config, cbs)
        return {c: (clock() - started[c]) / config.epochs for c, clock in CLOCKS.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = Config(epochs=args.epochs, device="cpu").validate()
    data = load_prepared(config)
    timed_fit("bare", data, config)  # warm-up: first-use imports and allocations
    times: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for _ in range(args.repeats):
        for variant in VARIANTS:
            times[variant].append(timed_fit(variant, data, config))
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} thread(s), {args.epochs} epochs x 25 steps, median of {args.repeats}"
    )
    print(f"{'variant':<22}{'wall ms/epoch':>14}{'x bare':>8}{'cpu ms/epoch':>14}{'x bare':>8}")
    base = {c: statistics.median(t[c] for t in times["bare"]) for c in CLOCKS}
    for variant in VARIANTS:
        med = {c: statistics.median(t[c] for t in times[variant]) for c in CLOCKS}
        print(
            f"{variant:<22}{med['wall'] * 1e3:>14.2f}{med['wall'] / base['wall']:>8.2f}"
            f"{med['cpu'] * 1e3:>14.2f}{med['cpu'] / base['cpu']:>8.2f}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        saver = Checkpointer(Path(tmp), keep=1)
        fit(build_model(model_spec(config, data), seed=0), data, config.replace(epochs=1), [saver])
        path = saver.written[-1]
        reads = []
        for _ in range(20):
            started = time.perf_counter()
            read_checkpoint(path)
            reads.append(time.perf_counter() - started)
        print(
            f"one checkpoint: {path.stat().st_size / 1024:.1f} KiB; read + verify "
            f"{statistics.median(reads) * 1e3:.2f} ms (median of 20)"
        )


if __name__ == "__main__":
    main()
