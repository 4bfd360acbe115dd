r"""Data-parallel training on PyTorch's own machinery: ``torch.distributed`` and
``DistributedDataParallel`` (DDP), with processes started by ``torchrun``.

looplab adds no distributed layer of its own. Each process (a *rank* of the *world*) builds the
same model from the same seed, takes its own shard of every epoch (:mod:`looplab.data.shards`)
and hands the loop what it already takes: a DDP-wrapped model is an ``nn.Module`` (its backward
all-reduces the gradients, averaged over ranks), sharded batches are a ``BatchSource``, and
:meth:`Distributed.sum` is the loop's ``reduce_metrics`` (the epoch's metric sums over every
rank, so every rank's history is the whole run's). What else a run needs:

- only rank 0 writes the run directory, the progress bar and the report;
- checkpoints are taken on every rank at the same steps (:func:`gather_snapshot`: rank 0 saves
  the running metric sums of all ranks and each rank's random generators) and a resume hands
  each rank its own part back (:func:`snapshot_for_rank`);
- SIGINT and SIGTERM are agreed on (:class:`AgreedSignals`) so that all ranks stop after the
  same step, and a collective waits at most :data:`TIMEOUT` for a rank that died.

The backend is ``gloo`` on the CPU and ``nccl`` on CUDA, chosen by the device.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from looplab.config import Config
from looplab.errors import ConfigError, LooplabError
from looplab.loop.events import Callback
from looplab.loop.snapshot import Snapshot, global_rngs
from looplab.loop.state import LoopState
from looplab.watch.interrupt import SignalCatcher

T = TypeVar("T")
TIMEOUT = timedelta(seconds=120)  # longest wait in a collective: a dead peer ends the job
AGREE_EVERY = 16  # steps between the ranks' checks for a caught signal
METRIC_SUMS = ("count", "loss", "correct", "sse", "sae", "y", "yy")  # RunningMetrics' sums


@dataclass(frozen=True)
class Distributed:
    """This process's place in a data-parallel job; the process group is torch's default one,
    made by :func:`start` (or by :func:`start_with_store` in tests)."""

    rank: int
    world: int
    local_rank: int = 0  # rank on this machine: which GPU it drives

    @property
    def primary(self) -> bool:
        """Rank 0 writes the run directory, prints, and saves checkpoints."""
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """Where collectives put their tensors: this rank's GPU under nccl, else the CPU."""
        if dist.get_backend() == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def sum(self, sums: dict[str, float]) -> dict[str, float]:
        """``sums`` added over every rank (an all-reduce in float64): the loop's
        ``reduce_metrics``. Every rank sends the same keys, zero where it has none."""
        keys = sorted(set(METRIC_SUMS) | set(sums))
        values = torch.tensor([sums.get(k, 0.0) for k in keys], dtype=torch.float64,
                              device=self.device)  # fmt: skip
        dist.all_reduce(values)
        return dict(zip(keys, values.tolist(), strict=True))

    def maximum(self, value: int) -> int:
        """The largest of every rank's ``value``."""
        t = torch.tensor([value], dtype=torch.int64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(t.item())

    def gather(self, value: object) -> list[Any]:
        """Every rank's ``value`` (any picklable object), in rank order, on every rank."""
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def broadcast(self, value: object) -> Any:
        """Rank 0's ``value`` on every rank."""
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def launched() -> Distributed | None:
    """This process's rank and world when ``torchrun`` started it (its environment says so:
    ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), else None."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    return Distributed(
        int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
        int(os.environ.get("LOCAL_RANK", "0")),
    )  # fmt: skip


def backend_for(device: torch.device) -> str:
    """``nccl`` for CUDA, ``gloo`` for everything else."""
    return "nccl" if device.type == "cuda" else "gloo"


def start(place: Distributed, config: Config) -> None:
    """Join the job ``torchrun`` set up (its environment holds the rendezvous address), with
    the backend of the device ``config`` asks for."""
    from looplab.run.build import pick_device

    device = pick_device(config.device, place)
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(place.local_rank)
        dist.init_process_group(backend_for(device), timeout=TIMEOUT,
                                rank=place.rank, world_size=place.world)  # fmt: skip


def start_with_store(place: Distributed, store_file: Path, backend: str = "gloo") -> None:
    """Join a job through a file every rank can see (no port; the tests use this)."""
    store = dist.FileStore(str(store_file), place.world)  # type: ignore[attr-defined]
    dist.init_process_group(backend, store=store, rank=place.rank, world_size=place.world,
                            timeout=TIMEOUT)  # fmt: skip


def stop() -> None:
    """Leave the job (nothing when none was joined)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def rank_seed(seed: int, place: Distributed) -> int:
    """The seed of this rank's global generators (dropout): ``seed + rank``, so rank 0 draws
    what a one-process run draws, and each rank draws its own masks, reproducibly."""
    return seed + place.rank


class DataParallel(DistributedDataParallel):
    """``DistributedDataParallel`` whose state dict is the wrapped model's own (no ``module.``
    prefix), so checkpoints and saved models are the same with any number of processes."""

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        return self.module.load_state_dict(state_dict, strict=strict, assign=assign)


def data_parallel(model: nn.Module, device: torch.device, sync_bn: bool = False) -> nn.Module:
    """``model`` (already on ``device``) wrapped for DDP; with ``sync_bn`` its batch norms
    compute their statistics over every rank's batch (``SyncBatchNorm``, CUDA only)."""
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # type: ignore[no-untyped-call]
    ids = [device.index] if device.type == "cuda" else None
    return DataParallel(model, device_ids=ids)


def gather_snapshot(place: Distributed, snapshot: Snapshot) -> Snapshot:
    """A checkpoint of the whole job from every rank's own (a collective): the running metric
    sums added over ranks, and every rank's global random generators (dropout masks differ by
    rank). Model, optimizer and shuffling are the same on every rank: rank 0's are kept."""
    out = dict(snapshot)
    running = snapshot.get("running")
    if running is not None:
        total = place.sum({k: float(v) for k, v in running.items()})
        out["running"] = {k: v for k, v in total.items() if k in running or k == "count"}
        out["running"]["count"] = int(total["count"])
    out["rank_rngs"] = place.gather(global_rngs())
    out["world"] = place.world
    return out


def snapshot_for_rank(snapshot: Snapshot, place: Distributed) -> Snapshot:
    """This rank's view of a job's checkpoint: its own random generators, and the running
    sums on rank 0 only (they are the whole job's; the others start the epoch's rest at 0)."""
    out = dict(snapshot)
    ranks = snapshot.get("rank_rngs")
    if ranks is not None:
        out["rng"] = {**snapshot["rng"], **ranks[place.rank]}
    running = snapshot.get("running")
    if running is not None and not place.primary:
        out["running"] = {k: 0 if k == "count" else 0.0 for k in running}
    return out


class AgreedSignals(Callback):
    """SIGINT/SIGTERM as the whole job sees it: ``signum`` is set on every rank at the same
    step, the first check after any rank caught one (every :data:`AGREE_EVERY` steps and at
    each epoch's start). Give it to the Checkpointer in place of the process's own catcher;
    ranks other than 0 then stop there too (rank 0 saves the checkpoint)."""

    def __init__(self, caught: SignalCatcher, place: Distributed) -> None:
        self.caught = caught
        self.place = place
        self.signum: int | None = None
        self.run_dir: Path | None = None

    def _agree(self) -> None:
        if self.signum is None:
            signum = self.place.maximum(self.caught.signum or 0)
            self.signum = signum or None

    def on_epoch_start(self, state: LoopState, epoch: int) -> None:
        self._agree()

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if state.step % AGREE_EVERY == 0:
            self._agree()


def peer_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective that failed because another rank went away."""
    return isinstance(exc, dist.DistError) or (
        isinstance(exc, RuntimeError) and any(w in str(exc) for w in ("gloo", "NCCL", "Gloo"))
    )


__all__ = [
    "AgreedSignals",
    "DataParallel",
    "Distributed",
    "backend_for",
    "data_parallel",
    "from_primary",
    "gather_snapshot",
    "joined",
    "launched",
    "peer_lost",
    "rank_seed",
    "snapshot_for_rank",
    "start",
    "start_with_store",
    "stop",
]


def from_primary(place: Distributed | None, compute: Callable[[], T]) -> T:
    """``compute()`` on rank 0, its result on every rank. A user mistake it raises is raised
    on every rank (one line each, printed by rank 0), so no rank waits for the others."""
    if place is None:
        return compute()
    outcome: tuple[str, Any] = ("ok", None)
    if place.primary:
        try:
            outcome = ("ok", compute())
        except LooplabError as exc:
            outcome = ("error", (type(exc), str(exc)))
    kind, value = place.broadcast(outcome)
    if kind == "error":
        error_type, message = value
        raise error_type(message)
    return cast(T, value)


def joined(config: Config, place: Distributed) -> Config:
    """``config`` as run by this job: ``nproc`` is the number of processes torchrun started
    (the run records it, and a resume must use as many)."""
    if config.nproc not in (1, place.world):
        raise ConfigError(
            f"nproc is {config.nproc} but torchrun started {place.world} processes; leave out "
            "--nproc under torchrun (the run records the number torchrun started)"
        )
    return config.replace(nproc=place.world).validate()
