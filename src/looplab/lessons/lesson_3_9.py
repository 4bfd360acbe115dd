"""Lesson 3.9: what comes after the loop: mixed precision (bf16 autocast) measured on the
default job, gradient accumulation as a bigger batch, and a run that crashes and resumes."""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.loop.events import Callback
from looplab.loop.state import LoopState
from looplab.models.mlp import ModelSpec, build_model
from looplab.run.fit import fit
from looplab.run.threads import torch_threads
from looplab.watch.checkpoint import latest_good
from looplab.watch.checkpointer import Checkpointer

# ---------------------------------------------------------------- demos


def bf16_on_the_default_job(fast: bool = False, out: Path = Path("lessons/3.9")) -> DemoResult:
    """The default job (moons, 2-16-16-1 ReLU, Adam lr 0.01, batches of 32) trained twice from
    the same seed and batch order, side by side in one process: in float32, and with the
    forward pass and loss under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (weights,
    gradients and optimizer stay float32: mixed precision). bfloat16 keeps float32's exponent
    range but only 8 bits of mantissa."""
    epochs = 8 if fast else 30
    data = load_prepared(Config())
    assert isinstance(data.train, Split) and isinstance(data.val, Split)
    X, y, Xv, yv = data.train.X, data.train.y, data.val.X, data.val.y  # (rows, 2), (rows,)

    def train(bf16: bool) -> tuple[float, float]:
        """Validation accuracy after the run, and the run's seconds."""
        model = build_model(ModelSpec(2, 1, (16, 16)), seed=0)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        order = torch.Generator().manual_seed(0)
        started = time.perf_counter()
        with torch_threads(1):
            for _ in range(epochs):
                for rows in torch.randperm(len(X), generator=order).split(32):
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                        logits = model(X[rows])[:, 0]  # (32,), bfloat16 under autocast
                        loss = F.binary_cross_entropy_with_logits(logits.float(), y[rows])
                    optimizer.zero_grad()
                    loss.backward()  # the gradients land in float32 .grad
                    optimizer.step()
        seconds = time.perf_counter() - started
        with torch.no_grad():
            accuracy = float(((model(Xv)[:, 0] > 0).float() == yv).float().mean())
        return accuracy, seconds

    train(False)  # warm-up: first calls pay for lazy initialization
    (acc32, s32), (acc16, s16) = train(False), train(True)
    values = torch.randn(100_000, generator=torch.Generator().manual_seed(1))
    rounding = float(((values.bfloat16().float() - values) / values).abs().max())

    result = DemoResult()
    result.add("validation accuracy, float32", acc32, f"after {epochs} epochs")
    result.add(
        "validation accuracy, bf16 autocast",
        acc16,
        f"{100 * (acc16 - acc32):+.1f} points against float32, same seed and batches",
    )
    result.add(
        "bf16 time / float32 time",
        s16 / s32,
        f"{s16:.2f} s against {s32:.2f} s on this CPU, same work; "
        + (
            "on a model this small the casts cost more than the narrower numbers save: the "
            "gains need large matrices and bf16 hardware (GPU tensor cores, CPUs with AMX)"
            if s16 > s32
            else "faster here, even on a model this small"
        ),
    )
    result.add(
        "bf16 worst relative rounding",
        rounding,
        f"over 100,000 normal draws; 8 significant bits round to within 2^-8 = {2**-8:.4g} "
        "of the value",
    )
    return result


def accumulation_is_a_bigger_batch(
    fast: bool = False, out: Path = Path("lessons/3.9")
) -> DemoResult:
    """When a batch does not fit in memory, split it: 4 micro-batches of 8 rows, each loss
    divided by 4 and backward-ed into the same ``.grad`` (no ``zero_grad`` between), give the
    gradient of the batch of 32, then one step. Checked in float64 over an epoch of SGD."""
    data = load_prepared(Config())
    assert isinstance(data.train, Split)
    X, y = data.train.X.double(), data.train.y.double()  # (rows, 2), (rows,)
    models = [build_model(ModelSpec(2, 1, (16, 16)), seed=0).double() for _ in range(2)]
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in models]
    batches = torch.arange(len(X)).split(32)  # in order: both runs see the same rows
    first_gap = math.nan
    with torch_threads(1):
        for i, rows in enumerate(batches):
            whole, accumulated = models
            loss = F.binary_cross_entropy_with_logits(whole(X[rows])[:, 0], y[rows])
            optimizers[0].zero_grad()
            loss.backward()
            optimizers[1].zero_grad()
            micro = rows.split(8)
            for part in micro:  # no zero_grad in between: the gradients add up
                part_loss = F.binary_cross_entropy_with_logits(accumulated(X[part])[:, 0], y[part])
                (part_loss / len(micro)).backward()
            if i == 0:
                first_gap = max(
                    float((a.grad - b.grad).abs().max())  # type: ignore[operator]
                    for a, b in zip(whole.parameters(), accumulated.parameters(), strict=True)
                )
            for optimizer in optimizers:
                optimizer.step()
    gap = max(
        float((a - b).detach().abs().max())
        for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True)
    )
    result = DemoResult()
    result.add(
        "max |gradient of 32 - accumulated 4 x 8|",
        first_gap,
        "the first batch's gradients, float64: equal up to the order of the sums",
    )
    result.add(
        "max weight difference after an epoch",
        gap,
        f"{len(batches)} SGD steps each way (a last short batch splits into fewer, smaller "
        "micro-batches: the mean over unequal parts would differ; here every part is 8 rows)",
    )
    return result


def crash_and_resume(fast: bool = False, out: Path = Path("lessons/3.9")) -> DemoResult:
    """Long runs get interrupted. The default job runs straight through; then again with a
    checkpoint every 20 steps and a crash planted at step 130 (an exception from a callback,
    as a power cut would leave things: no final save). A fresh model resumes from the newest
    checkpoint file and finishes the run; the weights are compared with the straight run's."""
    config = Config(epochs=6 if fast else 12, device="cpu")
    data = load_prepared(config)

    class Crash(Exception):
        """The planted failure."""

    class CrashAt(Callback):
        def __init__(self, step: int) -> None:
            self.step = step

        def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
            if state.step == self.step:
                raise Crash(f"planted crash at step {state.step}")

    straight = build_model(ModelSpec(2, 1, (16, 16)), seed=0)
    fit(straight, data, config)

    with tempfile.TemporaryDirectory() as temporary:  # the checkpoints live only here
        folder = Path(temporary)
        crashed = build_model(ModelSpec(2, 1, (16, 16)), seed=0)
        with contextlib.suppress(Crash):  # the run dies; its checkpoints stay
            fit(crashed, data, config, [Checkpointer(folder, every_steps=20), CrashAt(130)])
        found = latest_good(folder)
        resumed = build_model(ModelSpec(2, 1, (16, 16)), seed=1)  # other weights: the file's win
        saver = Checkpointer(folder, every_steps=20)
        history = fit(resumed, data, config, [saver], resume=found.path)
    gap = max(
        float((a - b).detach().abs().max())
        for a, b in zip(straight.parameters(), resumed.parameters(), strict=True)
    )
    result = DemoResult()
    result.add(
        "resumed from step",
        found.payload["step"],
        f"the newest checkpoint before the crash at step 130 ({found.path.name}); the steps "
        "after it are done again",
    )
    result.add(
        "max |straight - crashed and resumed| weight",
        gap,
        f"after {len(history)} epochs: 0 means bitwise the same run (weights, Adam's moments, "
        "the shuffling's random state, the running metrics were all in the checkpoint)",
    )
    return result


# ---------------------------------------------------------------- exercise 3.9.1


def accumulated_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, micro_batches: list[tuple[Tensor, Tensor]]
) -> Tensor:
    """One optimizer step on the mean squared error of a batch given as equal micro-batches.

    Each (x, y) in micro_batches is (rows, in) and (rows, out), all with the same number of
    rows. Clear the gradients once, then for each micro-batch backward its MSE divided by the
    number of micro-batches (the gradients add up in .grad), then take one optimizer step.
    The result must equal one step on the whole batch. Return the whole batch's loss before
    the step (the mean of the micro-batch losses), without autograd history.

    >>> model = torch.nn.Linear(1, 1, bias=False)
    >>> _ = torch.nn.init.ones_(model.weight)
    >>> sgd = torch.optim.SGD(model.parameters(), lr=0.5)
    >>> one, zero = torch.ones(1, 1), torch.zeros(1, 1)
    >>> accumulated_step(model, sgd, [(one, zero), (one, one)]), model.weight.data
    (tensor(0.5000), tensor([[0.5000]]))
    """
    optimizer.zero_grad()
    total = torch.zeros(())
    for x, y in micro_batches:
        loss = F.mse_loss(model(x), y) / len(micro_batches)
        loss.backward()
        total += loss.detach()
    optimizer.step()
    return total


def _accumulation_cases() -> list[Case]:
    def make(optimizer: str, parts: int, rows: int, seed: int) -> Case:
        def args() -> Args:
            torch.manual_seed(seed)  # the model's default init
            model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
            g = torch.Generator().manual_seed(seed)
            x, y = (
                torch.randn(parts * rows, 3, generator=g),
                torch.randn(parts * rows, 2, generator=g),
            )
            opt = (torch.optim.SGD(model.parameters(), lr=0.1) if optimizer == "sgd"
                   else torch.optim.Adam(model.parameters(), lr=0.01))  # fmt: skip
            return model, opt, list(zip(x.split(rows), y.split(rows), strict=True))

        return Case(f"{optimizer}, {parts} micro-batches of {rows}", args)

    return [make("sgd", 4, 8, 0), make("sgd", 2, 5, 1), make("adam", 3, 4, 2), make("sgd", 1, 6, 3)]


def _observe_step(fn: object, args: Args) -> Outputs:
    model = args[0]
    loss = fn(*args)  # type: ignore[operator]
    weights = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return {"loss": torch.as_tensor(loss).detach(), "weights after": weights}


def _whole_batch(way: str) -> object:
    """The oracle (``way`` "whole": one step on the concatenated batch) or a known mistake:
    "sum" (each micro-loss not divided), "last" (zero_grad before each micro-batch)."""

    def run(model: nn.Module, opt: torch.optim.Optimizer, parts: list[tuple[Tensor, Tensor]]
            ) -> Outputs:  # fmt: skip
        x = torch.cat([p[0] for p in parts])
        y = torch.cat([p[1] for p in parts])
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        if way == "whole":
            loss.backward()
        elif way == "sum":
            (loss * len(parts)).backward()
        else:  # only the last micro-batch's gradient, divided by their number
            last_x, last_y = parts[-1]
            (((model(last_x) - last_y) ** 2).mean() / len(parts)).backward()
        opt.step()
        weights = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        reported = loss.detach() * (len(parts) if way == "sum" else 1)  # undivided: K x
        return {"loss": reported, "weights after": weights}

    return run


ACCUMULATED_STEP = Exercise(
    id="3.9.1",
    title="a step with gradient accumulation",
    solution=accumulated_step,
    cases=_accumulation_cases,
    oracle=_whole_batch("whole"),  # type: ignore[arg-type]
    oracle_name="one step of the same optimizer on the whole batch at once",
    observe=_observe_step,
    outputs=("loss", "weights after"),
    imports=("import torch", "import torch.nn.functional as F", "from torch import Tensor, nn"),
    hints=(
        "zero_grad once before the loop, backward each micro-batch's loss divided by the "
        "number of micro-batches, step once after the loop",
        "optimizer.zero_grad(); for x, y in micro_batches: loss = F.mse_loss(model(x), y) / "
        "len(micro_batches); loss.backward(); total += loss.detach(); then optimizer.step()",
    ),
    mistakes=(
        Mistake(
            "not divided",
            "divide each micro-batch's loss by the number of micro-batches: the mean over the "
            "whole batch is the mean of the parts' means",
            _whole_batch("sum"),  # type: ignore[arg-type]
        ),
        Mistake(
            "zero_grad in the loop",
            "clear the gradients once, before the loop: a zero_grad per micro-batch throws "
            "away all but the last one's gradient",
            _whole_batch("last"),  # type: ignore[arg-type]
        ),
    ),
    rtol=1e-5,
    atol=1e-6,
)

LESSON = Lesson(
    id="3.9",
    title="What comes after",
    minutes=15,
    eli5=(
        "The loop you have written is the loop that trains the largest models; what changes "
        "at scale is around it. Numbers get stored with fewer digits so the hardware can do "
        "more of them at once (mixed precision). A batch too big for memory is fed in slices "
        "whose gradients add up (accumulation). Many machines each take a slice of the batch "
        "and average their gradients (data parallelism, lesson 3.5). And a run of weeks saves "
        "itself regularly, so a crash costs minutes, not the run (checkpoints)."
    ),
    equations=(
        r"\text{bfloat16: } 1 \text{ sign}, 8 \text{ exponent}, 7 + 1 \text{ mantissa bits} "
        r"\Rightarrow |\mathrm{bf16}(x) - x| \le 2^{-8} |x|",
        r"\nabla \frac{1}{B} \sum_{i=1}^{B} \ell_i = \sum_{k=1}^{K} \frac{1}{K} \nabla "
        r"\frac{K}{B} \sum_{i \in \text{part}_k} \ell_i \quad (K \text{ equal parts})",
    ),
    notes=(
        "Where to go next: `torch.compile` fuses a model's operations into fewer, faster "
        "kernels (it pays on large models and GPUs; compiling takes seconds to minutes); "
        "`torch.distributed` and DDP spread a batch over devices (lesson 3.5); activation "
        "checkpointing trades compute for memory by recomputing activations in the backward "
        "pass; libraries such as PyTorch Lightning, Hugging Face Accelerate and nanoGPT wrap "
        "this same loop, and reading their training step is now a matter of finding the five "
        "lines you know.",
    ),
    look_at=(
        "bf16 autocast ends within about a point of float32's accuracy; whether it is faster "
        "depends on the hardware and the model's size: the ratio is measured here, side by "
        "side, not assumed",
        "accumulating 4 micro-batches of 8 is one batch of 32, to float64 rounding, step after "
        "step",
        "the crashed run resumes from its last checkpoint and ends bitwise equal to the run "
        "that never crashed",
    ),
    demos=(
        Demo("bf16 mixed precision on the default job", bf16_on_the_default_job),
        Demo("gradient accumulation is a bigger batch", accumulation_is_a_bigger_batch),
        Demo("a crash, and the resume", crash_and_resume),
    ),
    exercises=(ACCUMULATED_STEP,),
)
