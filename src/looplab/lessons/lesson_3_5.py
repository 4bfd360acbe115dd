"""Lesson 3.5: data parallelism and hardware: shard gradients averaged into the batch's, a real
two-process run equal to one process, and where the time of a step goes on this machine."""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DistributedSampler

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.shards import ShardedBatches
from looplab.data.split import Split
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.scaling import ring_all_reduce_seconds, scaling_figure
from looplab.plots.style import DPI, PALETTE, save
from looplab.run.build import pick_device
from looplab.run.distributed import Distributed, start_with_store, stop
from looplab.run.fit import fit
from looplab.run.threads import torch_threads

# ---------------------------------------------------------------- demos


def shards_average_to_the_full_batch(
    fast: bool = False, out: Path = Path("lessons/3.5")
) -> DemoResult:
    """The fact data parallelism rests on: a batch split into equal shards, each shard's
    gradient of its own mean loss, and the mean of those gradients is the gradient of the whole
    batch's mean loss (autograd on the full batch is the oracle; float64, the default job's
    model and rows). Then how torch's ``DistributedSampler`` deals an epoch's rows out to the
    ranks, and looplab's ``ShardedBatches`` doing the same."""
    data = load_prepared(Config())
    assert isinstance(data.train, Split)
    X, y = data.train.X[:48].double(), data.train.y[:48].double()  # (48, 2), (48,)
    model = build_model(ModelSpec(2, 1, (16, 16)), seed=0).double()

    def gradient(rows: slice) -> Tensor:
        """The gradient of the mean BCE over X[rows], every parameter flattened into one."""
        model.zero_grad()
        F.binary_cross_entropy_with_logits(model(X[rows])[:, 0], y[rows]).backward()
        return torch.cat([p.grad.reshape(-1) for p in model.parameters()])  # type: ignore[union-attr]

    full = gradient(slice(None))  # (parameters,)
    result = DemoResult()
    for shards in (2, 4):
        size = len(X) // shards
        parts = torch.stack([gradient(slice(k * size, (k + 1) * size)) for k in range(shards)])
        result.add(
            f"max |mean of {shards} shard gradients - full-batch gradient|",
            float((parts.mean(0) - full).abs().max()),
            f"{shards} shards of {size} rows, {full.numel()} gradient entries; 0 up to float64 "
            "rounding: each rank's backward plus an all-reduce average is one big backward",
        )
    first, second = gradient(slice(0, 36)), gradient(slice(36, 48))  # unequal: 36 + 12 rows
    result.add(
        "max |plain mean of unequal shards - full|",
        float(((first + second) / 2 - full).abs().max()),
        "shards of 36 and 12 rows averaged with equal weights: the 12 rows count 3 times too "
        "much. That is why ranks must hold equal shards (DistributedSampler pads them)",
    )
    result.add(
        "max |row-weighted mean of unequal shards - full|",
        float(((36 * first + 12 * second) / 48 - full).abs().max()),
        "weighted by rows (36/48 and 12/48) the unequal shards give the full gradient again",
    )

    rows, world = 10, 3  # 10 rows do not divide by 3 ranks
    for rank in range(world):
        rows_0_to_9: Any = range(rows)  # any sized dataset: the sampler deals out its indices
        sampler: DistributedSampler[int] = DistributedSampler(
            rows_0_to_9, num_replicas=world, rank=rank, shuffle=False
        )
        torch_says: list[int] = list(sampler)
        index = torch.arange(rows, dtype=torch.float32)[:, None]  # (rows, 1): each row's number
        shard = ShardedBatches(index, index[:, 0], rows, rank, world, shuffle=False)
        looplab_says = [int(v) for xb, _ in shard.epoch() for v in xb[:, 0]]
        result.add(
            f"rank {rank} of {world}: rows",
            len(torch_says),
            f"DistributedSampler(shuffle=False) deals rank {rank} rows {torch_says} of 0..9 "
            f"(strided: every {world}rd row from row {rank}; padded with the first rows so "
            f"every rank has ceil(10 / 3) = {math.ceil(rows / world)}); looplab's "
            f"ShardedBatches gives {looplab_says}",
        )
        result.add(
            f"rank {rank} of {world}: rows where looplab differs from torch",
            sum(a != b for a, b in zip(torch_says, looplab_says, strict=True)),
            "0: the same rows in the same order",
        )
    return result


def two_processes_train_as_one(fast: bool = False, out: Path = Path("lessons/3.5")) -> DemoResult:
    """A real data-parallel run: the default job (moons, 2-16-16-1, Adam lr 0.01, global batch
    32) on 2 processes of 16 rows a step each, started with ``torch.multiprocessing``, joined
    by gloo through a file in a temporary folder, trained by looplab's own ``fit`` with the
    rank's ``place`` (DDP all-reduces the gradients in every backward). Its weights are compared
    with one process training the batch of 32 alone, and the seconds of both are measured.
    Each rank also times all-reduces of a gradient-sized tensor: the communication of a step."""
    epochs = 2 if fast else 10
    config = Config(epochs=epochs, device="cpu")  # batch_size 32 is the global batch
    # one process first (it also does the slow first imports, which the forked ranks inherit)
    one = build_model(ModelSpec(2, 1, (16, 16)), seed=0)
    data = load_prepared(config)
    history = fit(one, data, config)
    one_s = sum(history.column("time_s"))

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)

        def rank_main(rank: int) -> None:
            """One process of the job: join, train its shard, rank 0 saves what it saw."""
            torch.set_num_threads(1)  # two processes on this machine's cores
            place = Distributed(rank, 2)
            start_with_store(place, folder / "store")
            try:
                job = config.replace(nproc=2).validate()
                model = build_model(ModelSpec(2, 1, (16, 16)), seed=0)  # same weights per rank
                history = fit(model, load_prepared(job), job, place=place)
                flat = torch.zeros(sum(p.numel() for p in model.parameters()))  # (parameters,)
                dist.all_reduce(flat)  # warm-up
                dist.barrier()
                started = time.perf_counter()
                for _ in range(200):
                    dist.all_reduce(flat)
                reduce_s = (time.perf_counter() - started) / 200
                if rank == 0:
                    torch.save({"weights": model.state_dict(), "reduce_s": reduce_s,
                                "seconds": sum(history.column("time_s"))},
                               folder / "rank0.pt")  # fmt: skip
            finally:
                stop()

        # fork: the children start with everything imported (spawn would import torch again)
        mp.start_processes(rank_main, nprocs=2, start_method="fork")  # type: ignore[attr-defined,no-untyped-call]
        two = torch.load(folder / "rank0.pt")

    steps = epochs * math.ceil(len(data.train) / 32)  # type: ignore[arg-type]
    gap = max(float((w - two["weights"][k]).abs().max()) for k, w in one.state_dict().items())
    step_s = one_s / steps  # one process's step (and its share of validation)
    gradient_bytes = 4 * sum(p.numel() for p in one.parameters())

    result = DemoResult(figures=[out / "scaling.png"])
    result.add(
        "max |2 processes - 1 process| weight",
        gap,
        f"after {steps} steps: the same run up to float32 rounding (the all-reduce adds the "
        "two halves' gradients in another order than one backward over 32 rows)",
    )
    result.add(
        "2 processes' seconds / 1 process's",
        two["seconds"] / one_s,
        f"{two['seconds']:.2f} s against {one_s:.2f} s of training and validation on this "
        "machine: " + ("slower; the next two numbers say why" if two["seconds"] > one_s
                       else "faster here"),
    )  # fmt: skip

    def step_seconds(sizes: tuple[int, ...], repeats: int = 7) -> list[float]:
        """One process's training step on each number of rows: chunks of 100 steps taken in
        turn (so a busy spell slows them alike), the best chunk of each."""
        runs = []
        for rows in sizes:
            model = build_model(ModelSpec(2, 1, (16, 16)), seed=0)
            optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
            runs.append((model, optimizer, data.train.X[:rows], data.train.y[:rows]))  # type: ignore[union-attr]
        best = [math.inf] * len(sizes)
        with torch_threads(1):
            for _ in range(repeats):
                for i, (model, optimizer, X, y) in enumerate(runs):
                    started = time.perf_counter()
                    for _ in range(100):
                        loss = F.binary_cross_entropy_with_logits(model(X)[:, 0], y)
                        optimizer.zero_grad()
                        loss.backward()
                        optimizer.step()
                    best[i] = min(best[i], (time.perf_counter() - started) / 100)
        return best

    half, whole = step_seconds((16, 32))
    result.add(
        "step on 16 rows / step on 32 rows",
        half / whole,
        f"{half * 1e3:.3f} ms against {whole * 1e3:.3f} ms (one process, one thread): halving "
        + (
            f"the rows saves {100 * (1 - half / whole):.0f}% of the step. "
            if half < whole
            else "the rows saves nothing. "
        )
        + (
            "A model this small spends its step on per-operation overhead, not arithmetic, so "
            "each rank's half-batch step costs almost a whole step"
            if half > 0.75 * whole
            else "More than a model this small usually saves (on a quiet machine about 0%: "
            "its step is per-operation overhead, not arithmetic); timings on a busy machine "
            "are noisy, run it again"
        ),
    )
    result.add(
        "all-reduce of the gradient, ms a step",
        1e3 * two["reduce_s"],
        f"{gradient_bytes} bytes of gradient exchanged between 2 processes by gloo, measured "
        f"in the job: added to every step of each rank, against {whole * 1e3:.3f} ms for the "
        "whole 32-row step in one process",
    )
    modelled = ring_all_reduce_seconds(2, gradient_bytes, gbit_per_s=10)
    result.add(
        "measured all-reduce / bandwidth model's",
        two["reduce_s"] / modelled,
        f"2 (N-1)/N G/W at 10 Gbit/s is {modelled * 1e6:.2g} us for these {gradient_bytes} "
        "bytes; the measured one is dominated by the fixed cost of a message (waking the "
        "other process, gloo's handshake), which the model of scaling.png leaves out: for a "
        "small model, latency, not bandwidth, decides",
    )
    out.mkdir(parents=True, exist_ok=True)
    save(scaling_figure({"default job": (step_s, gradient_bytes, 32)}), str(out / "scaling.png"))
    return result


def where_the_time_goes(fast: bool = False, out: Path = Path("lessons/3.5")) -> DemoResult:
    """Hardware: matrix products of growing size timed on this machine (best of several runs,
    torch's own thread count), in float32 and bfloat16, as GFLOP/s (a product of two n x n
    matrices is 2 n^3 floating-point operations); then the default job's training step, whose
    arithmetic is tiny: what a small model gets out of the same hardware."""
    sizes = (64, 256, 512) if fast else (64, 256, 512, 1024, 2048)
    repeats = 3 if fast else 7

    def gflops(n: int, dtype: torch.dtype) -> float:
        """2 n^3 operations over the best time of a product (``repeats`` timings)."""
        g = torch.Generator().manual_seed(n)
        a, b = torch.randn(n, n, generator=g).to(dtype), torch.randn(n, n, generator=g).to(dtype)
        a @ b  # warm-up
        count = max(1, 2**24 // n**3)  # products a timing: enough to be measurable
        best = math.inf
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(count):
                a @ b
            best = min(best, (time.perf_counter() - started) / count)
        return 2 * n**3 / best / 1e9

    float32 = [gflops(n, torch.float32) for n in sizes]
    bfloat16 = [gflops(n, torch.bfloat16) for n in sizes]

    data = load_prepared(Config())
    assert isinstance(data.train, Split)
    X, y = data.train.X[:32], data.train.y[:32]  # (32, 2), (32,)
    model = build_model(ModelSpec(2, 1, (16, 16)), seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    steps = 100 if fast else 500
    with torch_threads(1):
        best = math.inf
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(steps):
                loss = F.binary_cross_entropy_with_logits(model(X)[:, 0], y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            best = min(best, (time.perf_counter() - started) / steps)
    # forward 2 * rows * (2*16 + 16*16 + 16) multiply-adds; backward about twice that
    step_flops = 3 * 2 * 32 * (2 * 16 + 16 * 16 + 16 * 1)

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=DPI, layout="constrained")
    ax.plot(sizes, float32, "o-", color=PALETTE[0], label="float32")
    ax.plot(sizes, bfloat16, "s-", color=PALETTE[1], label="bfloat16")
    ax.axhline(step_flops / best / 1e9, color=PALETTE[3], linestyle="--",
               label="default job's training step")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("n (an n x n times n x n product)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(f"matrix products on this CPU ({torch.get_num_threads()} torch threads)")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "matmul.png"))

    device = pick_device("auto")
    capability = torch.backends.cpu.get_cpu_capability()  # AVX2, AVX512...
    result = DemoResult(figures=[out / "matmul.png"])
    for n, f32, bf16 in zip(sizes, float32, bfloat16, strict=True):
        result.add(f"GFLOP/s, float32, n = {n}", f32, f"{2 * n**3 / 1e6:.3g} million operations")
        result.add(
            f"bfloat16 / float32 speed, n = {n}",
            bf16 / f32,
            "bfloat16 pays on hardware with bf16 units (AVX512-BF16 or AMX CPUs, GPU tensor "
            f"cores) and large enough products; this CPU's vector unit: {capability}, "
            + ("and here it is slower" if bf16 < f32 else "and here it is faster"),
        )
    result.add(
        "GFLOP/s of the default job's training step",
        step_flops / best / 1e9,
        f"{step_flops} operations in {best * 1e6:.0f} us a step (one thread): a small model "
        "spends its step on Python and per-operation overhead, not arithmetic",
    )
    result.add(
        "CUDA available",
        float(torch.cuda.is_available()),
        f"looplab's device 'auto' picks {device.type} here"
        + ("" if device.type == "cuda" else " (no GPU); the course's tests always run on CPU"),
    )
    return result


# ---------------------------------------------------------------- exercise 3.5.1


def full_batch_gradient(shard_grads: Tensor, shard_rows: Tensor) -> Tensor:
    """The gradient of the whole batch's mean loss from the shards' gradients.

    The batch was split into K shards; shard_grads (K, *shape) holds each shard's gradient
    of its own mean loss, shard_rows (K,) how many rows each shard has (maybe unequal). The
    whole batch's mean loss is sum_k (rows_k / total) * mean loss of shard k: weight each
    shard's gradient by its share of the rows. Return a tensor of shape (*shape).

    >>> full_batch_gradient(torch.tensor([[1.0], [4.0]]), torch.tensor([3, 1]))
    tensor([1.7500])
    """
    weights = shard_rows.to(shard_grads.dtype) / shard_rows.sum()  # (K,)
    return (weights.reshape(-1, *[1] * (shard_grads.ndim - 1)) * shard_grads).sum(0)


def _shard_cases() -> list[Case]:
    def make(rows: tuple[int, ...], features: int, outputs: int, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            w = torch.randn(features, outputs, generator=g, dtype=torch.float64)
            X = torch.randn(sum(rows), features, generator=g, dtype=torch.float64)
            Y = torch.randn(sum(rows), outputs, generator=g, dtype=torch.float64)
            grads = []
            for Xk, Yk in zip(X.split(rows), Y.split(rows), strict=True):
                wk = w.clone().requires_grad_(True)
                ((Xk @ wk - Yk) ** 2).mean().backward()  # this shard's own mean loss
                grads.append(wk.grad)
            return torch.stack(grads), torch.tensor(rows), w, X, Y  # type: ignore[arg-type]

        return Case(f"shards of {list(rows)} rows, w ({features}, {outputs})", args)

    return [make((8, 8), 3, 1, 0), make((5, 5, 5, 5), 4, 2, 1), make((20, 12), 3, 1, 2),
            make((6, 3, 1), 5, 3, 3)]  # fmt: skip


def _observe_shards(fn: object, args: Args) -> Outputs:
    return {"result": torch.as_tensor(fn(args[0], args[1]))}  # type: ignore[operator]


def _whole_batch_gradient(grads: Tensor, rows: Tensor, w: Tensor, X: Tensor, Y: Tensor) -> Outputs:
    """The oracle: autograd on the mean squared error of all the rows at once."""
    w = w.clone().requires_grad_(True)
    ((X @ w - Y) ** 2).mean().backward()
    assert w.grad is not None
    return {"result": w.grad}


SHARD_GRADIENT = Exercise(
    id="3.5.1",
    title="the full-batch gradient from the shards' gradients",
    solution=full_batch_gradient,
    cases=_shard_cases,
    oracle=_whole_batch_gradient,
    oracle_name="autograd on the whole batch's mean squared error",
    observe=_observe_shards,
    hints=(
        "the whole batch's mean is a weighted mean of the shards' means, each weighted by its "
        "share of the rows: rows_k / total",
        "weights = shard_rows / shard_rows.sum(); return (weights[:, None] * "
        "shard_grads.flatten(1)).sum(0).reshape(shard_grads.shape[1:])",
    ),
    mistakes=(
        Mistake(
            "summed",
            "average the shards' gradients, do not add them: each is already the gradient of a "
            "mean, and K of them summed are K times too large",
            lambda grads, rows, *rest: {"result": grads.sum(0)},
        ),
        Mistake(
            "equal weights",
            "weight each shard by its rows, not equally: with unequal shards a plain mean "
            "counts the rows of a small shard too much (equal shards, as DistributedSampler "
            "makes, are where the plain mean is right)",
            lambda grads, rows, *rest: {"result": grads.mean(0)},
        ),
    ),
    rtol=1e-9,
    atol=1e-12,
)

# ---------------------------------------------------------------- exercise 3.5.2


def rank_indices(rows: int, world: int, rank: int) -> Tensor:
    """The row indices that process ``rank`` of ``world`` gets in an epoch without shuffling,
    as torch's DistributedSampler(shuffle=False) deals them.

    Every rank must get the same number of rows, ceil(rows / world): pad the list 0..rows-1
    by repeating it from its start until its length divides by world, then deal it out
    strided: rank r takes positions r, r + world, r + 2 world, ... Return an int64 tensor of
    shape (ceil(rows / world),).

    >>> rank_indices(5, 2, 1)
    tensor([1, 3, 0])
    """
    total = math.ceil(rows / world) * world
    padded = torch.arange(total) % rows  # (total,): 0..rows-1, then the first rows again
    return padded[rank::world]


def _rank_cases() -> list[Case]:
    def make(rows: int, world: int, rank: int) -> Case:
        return Case(f"{rows} rows, rank {rank} of {world}", lambda: (rows, world, rank))

    return [make(10, 3, 0), make(10, 3, 2), make(12, 4, 1), make(7, 2, 1), make(3, 5, 4),
            make(9, 4, 3)]  # fmt: skip


def _sampler_says(rows: int, world: int, rank: int) -> Outputs:
    dataset: Any = range(rows)  # any sized dataset: the sampler deals out its indices
    sampler: DistributedSampler[int] = DistributedSampler(
        dataset, num_replicas=world, rank=rank, shuffle=False
    )
    return {"result": torch.tensor(list(sampler), dtype=torch.int64)}


RANK_INDICES = Exercise(
    id="3.5.2",
    title="the rows a rank gets",
    solution=rank_indices,
    cases=_rank_cases,
    oracle=_sampler_says,
    oracle_name="torch.utils.data.DistributedSampler(shuffle=False)",
    imports=("import math", "import torch", "from torch import Tensor"),
    hints=(
        "every rank gets ceil(rows / world) rows: pad 0..rows-1 with its own first rows to "
        "ceil(rows / world) * world, then rank r takes every world-th entry from r",
        "total = math.ceil(rows / world) * world; padded = torch.arange(total) % rows; "
        "return padded[rank::world]",
    ),
    mistakes=(
        Mistake(
            "no padding",
            "pad the rows with their own first ones until they divide by world: without it "
            "some ranks get one row fewer, take fewer steps, and the job hangs in an all-reduce",
            lambda rows, world, rank: {"result": torch.arange(rank, rows, world)},
        ),
        Mistake(
            "contiguous blocks",
            "deal the rows out strided (rank r takes r, r + world, ...), not in contiguous "
            "blocks: strided, the j-th batches of all ranks together are the j-th batch of "
            "one process",
            lambda rows, world, rank: {
                "result": (torch.arange(math.ceil(rows / world) * world) % rows).reshape(world, -1)[
                    rank
                ]
            },
        ),
    ),
)

LESSON = Lesson(
    id="3.5",
    title="Data parallelism and hardware",
    minutes=30,
    eli5=(
        "To train faster, give each of several workers a slice of every batch. Each works out "
        "how the weights should change for its slice; they average their answers, and all "
        "take the same step. Because the loss is an average over rows, the average of the "
        "slices' answers is exactly the answer for the whole batch: the workers together are "
        "one worker with a bigger batch. The catch is the averaging: the workers must talk "
        "after every step, and if the talking takes longer than the work it saves, more "
        "workers are slower. Which one wins depends on the model's size and the hardware, so "
        "here both are measured on this machine."
    ),
    equations=(
        r"\nabla_\theta \frac{1}{B} \sum_{i=1}^{B} \ell_i = \frac{1}{N} \sum_{r=1}^{N} "
        r"\nabla_\theta \frac{N}{B} \sum_{i \in \text{shard}_r} \ell_i \quad "
        r"(N \text{ equal shards of } B/N \text{ rows})",
        r"\text{rank } r \text{ of } N \text{ takes rows } r, r + N, r + 2N, \dots \text{ of the "
        r"epoch, padded to } N \lceil n / N \rceil",
        r"t(N) = \frac{t_1}{N} + \frac{2 (N-1)}{N} \frac{G}{W} \quad (\text{compute split } N "
        r"\text{ ways, plus a ring all-reduce of } G \text{ bytes at bandwidth } W)",
    ),
    notes=(
        "Run it yourself: `looplab train --nproc 2` starts the default job on 2 processes "
        "with torchrun (gloo on the CPU, NCCL on CUDA); `--batch-size` is the global batch. "
        "docs/scaling-out.md has several machines, resume and what each flag means; "
        "`benchmarks/data_parallel.py` measures the step and its all-reduce for a small and a "
        "1024-wide MLP (RESULTS.md).",
        "Full mode (`looplab lesson 3.5`) takes 10 to 30 seconds on 2 cores: it trains 10 "
        "epochs on 2 processes and times products up to 2048 x 2048; `--fast` takes about "
        "10 seconds.",
    ),
    look_at=(
        "the mean of the shards' gradients is the full batch's gradient to float64 rounding, "
        "and unequal shards averaged with equal weights are not",
        "DistributedSampler pads 10 rows to 12 for 3 ranks (rows 0 and 1 are seen twice) and "
        "deals them strided; looplab's shards are the same rows",
        "the 2-process run ends with the weights of the 1-process run at the global batch, to "
        "float32 rounding; on this machine it is slower, and the half-batch step (hardly "
        "cheaper) and the all-reduce (added to every step) say why",
        "scaling.png: the two-term model of a step with this machine's one-process step; it "
        "counts bandwidth only, so for a gradient of 1.3 kB it promises near-ideal speedups "
        "that the measured all-reduce (hundreds of times the model's) rules out: the model "
        "is for large gradients, where bandwidth dominates",
        "matmul.png: GFLOP/s grow from n = 64 to a few hundred (the per-call overhead is "
        "shared by more arithmetic), and bfloat16 overtakes float32 only on the larger "
        "products, if at all; the default job's step uses a tiny fraction of either",
    ),
    demos=(
        Demo("shard gradients average to the batch's", shards_average_to_the_full_batch),
        Demo("two processes train as one", two_processes_train_as_one, ("scaling.png",)),
        Demo("where the time goes on this machine", where_the_time_goes, ("matmul.png",)),
    ),
    exercises=(SHARD_GRADIENT, RANK_INDICES),
)
