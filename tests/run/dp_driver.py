"""Driver for the data-parallel tests: runs a job of spawned processes joined through a
``FileStore`` (no port), and saves what each rank computed for the tests to compare.

    python dp_driver.py kernel WORKDIR     # the loop on 2 ranks: equivalence, accumulation, BN
    python dp_driver.py runs WORKDIR       # whole runs: reference, SIGINT on one rank, resume,
                                           # then a run SIGKILLed on both ranks after step 23
    python dp_driver.py resume WORKDIR     # the killed run resumed
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch
import torch.multiprocessing as mp
from torch import Tensor, nn
from torch.multiprocessing.spawn import ProcessExitedException

from looplab.config import Config
from looplab.loop.events import Callback
from looplab.loop.state import LoopState

WORLD = 2
ROWS, GLOBAL_BATCH = 640, 64  # 10 steps an epoch; 2 epochs: 20 steps


def data(dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(5)
    X = torch.randn(ROWS, 6, generator=g, dtype=dtype)  # (rows, 6)
    y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).to(dtype)  # (rows,) binary
    return X, y


def network(dtype: torch.dtype, norm: bool = False) -> nn.Module:
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(6, 24)]
    if norm:
        layers.append(nn.BatchNorm1d(24))
    layers += [nn.ReLU(), nn.Linear(24, 1)]
    return nn.Sequential(*layers).to(dtype)


def kernel_job(rank: int, work: Path) -> None:
    from looplab import loop
    from looplab.data.shards import ShardedBatches
    from looplab.models import TaskLoss
    from looplab.run.distributed import DataParallel, Distributed

    place = Distributed(rank, WORLD)
    cases = {
        "float64": (torch.float64, 1, False),
        "float32": (torch.float32, 1, False),
        "accumulate": (torch.float64, 2, False),
        "batchnorm": (torch.float64, 1, True),
    }
    for name, (dtype, k, norm) in cases.items():
        X, y = data(dtype)
        model = network(dtype, norm)
        ddp = DataParallel(model)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        local = GLOBAL_BATCH // WORLD // k
        batches = ShardedBatches(X, y, local, rank, WORLD,
                                 generator=torch.Generator().manual_seed(3))  # fmt: skip
        history = loop.fit(ddp, batches, TaskLoss("binary"), opt, epochs=2, task="binary",
                           accumulate=k, reduce_metrics=place.sum)  # fmt: skip
        torch.save({"params": {k: v.clone() for k, v in model.state_dict().items()},
                    "rows": history.rows}, work / f"{name}-rank{rank}.pt")  # fmt: skip


def config(work: Path, name: str) -> Config:
    return Config(dataset="moons", n=400, epochs=4, batch_size=32, dropout=0.1,
                  checkpoint_steps=5, keep_checkpoints=3, nproc=WORLD, device="cpu",
                  out=str(work), name=name).validate()  # fmt: skip


class KillAt(Callback):
    """At optimizer step ``step``, send ``sig`` to this process if it is one of ``ranks``."""

    def __init__(self, step: int, sig: int, ranks: tuple[int, ...], rank: int) -> None:
        self.step, self.sig, self.kills = step, sig, rank in ranks

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if state.step == self.step and self.kills:
            os.kill(os.getpid(), self.sig)


def runs_job(rank: int, work: Path, mode: str) -> None:
    from looplab import pipeline
    from looplab.run.build import build
    from looplab.run.distributed import Distributed
    from looplab.watch.interrupt import Interrupted, SignalCatcher

    place = Distributed(rank, WORLD)
    if mode == "runs":
        pipeline.train(config(work, "reference"), place=place)
        # one rank alone catches SIGINT at step 13: both stop after the same step
        try:
            with SignalCatcher() as signals:
                pipeline.train(config(work, "signalled"), signals=signals, place=place,
                               callbacks=[KillAt(13, signal.SIGINT, (1,), rank)])  # fmt: skip
            outcome = "finished"
        except Interrupted as exc:
            outcome = f"interrupted {exc.signum} {exc.checkpoint.name if exc.checkpoint else ''}"
        (work / f"signalled-rank{rank}.txt").write_text(outcome)
        pipeline.train(config(work, "signalled"), resume=work / "signalled", place=place)
        # each rank's dropout generator after the build: its own seed
        from looplab.data.prepared import load_prepared
        from looplab.models import ModelSpec, build_model

        cfg = config(work, "x")
        built = build(build_model(ModelSpec(2, 1, (16, 16)), seed=0), load_prepared(cfg), cfg,
                      place)  # fmt: skip
        del built
        torch.save(torch.rand(5), work / f"draw-rank{rank}.pt")
        pipeline.train(config(work, "killed"), place=place,
                       callbacks=[KillAt(23, signal.SIGKILL, (0, 1), rank)])  # fmt: skip
    elif mode == "resume":
        pipeline.train(config(work, "killed"), resume=work / "killed", place=place)


def rank_main(rank: int, mode: str, work: Path) -> None:
    from looplab.run.distributed import Distributed, start_with_store, stop

    torch.set_num_threads(1)
    start_with_store(Distributed(rank, WORLD), work / f"store-{mode}")
    try:
        if mode == "kernel":
            kernel_job(rank, work)
        else:
            runs_job(rank, work, mode)
    finally:
        stop()


if __name__ == "__main__":
    mode, work = sys.argv[1], Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    context = mp.start_processes(  # type: ignore[attr-defined,no-untyped-call]
        rank_main, args=(mode, work), nprocs=WORLD, join=False,
                                 start_method="spawn")  # fmt: skip
    try:
        while not context.join():
            pass
        print("exit 0")
    except ProcessExitedException as exc:
        print(f"killed {exc.signal_name}" if exc.signal_name else f"exit {exc.exit_code}")
