"""Lesson 1.3: batch vs stochastic vs mini-batch gradient descent, from one seed."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.experiments.compare import compare_batch_sizes
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs, Verdict
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.manual.linear import least_squares
from looplab.plots.compare import compare_figure
from looplab.plots.style import save

# ---------------------------------------------------------------- demos


def noise_by_batch_size(fast: bool = False, out: Path = Path("lessons/1.3")) -> DemoResult:
    """Linear regression with plain SGD at batch sizes 1, 8, 32 and full, from the same start
    and the same shuffling seed. The noise of a run is the std of its per-update losses over the
    last epoch; near the optimum a batch's mean loss has std sigma / sqrt(B) * sqrt((N-B)/(N-1)),
    with sigma the std of one example's loss (sampling B of N rows without replacement)."""
    config = Config(
        dataset="linear",
        model="linear",
        optimizer="sgd",
        lr=0.02,
        epochs=5 if fast else 10,
        n=500 if fast else 1000,
    )
    sizes: list[int | str] = [1, 8, 32, "full"]
    comparison = compare_batch_sizes(config, sizes)

    train = load_prepared(config).train
    assert isinstance(train, Split)
    w, b = least_squares(train.X, train.y)  # the optimum every run approaches
    per_example = (train.X.double() @ w + b - train.y.double()) ** 2  # (N,) one loss per row
    sigma, n = float(per_example.std()), len(train)

    out.mkdir(parents=True, exist_ok=True)
    save(compare_figure(comparison), str(out / "batch_sizes.png"))
    result = DemoResult(figures=[out / "batch_sizes.png"])
    for row in comparison.summary():
        size = row["batch_size"]
        result.add(
            f"final loss, batch {size}",
            float(row["final_loss"]),
            f"training loss after {config.epochs} epochs, "
            f"{int(row['updates_per_epoch'])} updates per epoch",
        )
    for size in (1, 8, 32):
        noise = comparison.of(size)[0].noise
        predicted = sigma / math.sqrt(size) * math.sqrt((n - size) / (n - 1))
        result.add(
            f"noise, batch {size}",
            noise,
            f"std of the batch losses in the last epoch; near the optimum sigma/sqrt(B) predicts "
            f"{predicted:.3g}",
        )
    ratio = comparison.of(1)[0].noise / comparison.of(8)[0].noise
    result.add(
        "noise ratio, batch 1 / batch 8",
        ratio,
        f"8x the batch, about sqrt(8) = {math.sqrt(8):.3g}x less noise "
        f"({math.sqrt(8 * (n - 1) / (n - 8)):.3g} sampling without replacement)",
    )
    return result


# ---------------------------------------------------------------- exercise 1.3.1: batches


def minibatches(n: int, batch_size: int, generator: torch.Generator) -> list[Tensor]:
    """One epoch of mini-batches: the row indices 0..n-1, shuffled, cut into batches.

    Shuffle with ``generator`` (so the same seed gives the same batches), then cut the
    permutation into consecutive pieces of ``batch_size``; the last piece is shorter when
    batch_size does not divide n. Every row appears exactly once. Return a list of 1-D integer
    tensors.

    >>> [len(batch) for batch in minibatches(10, 4, torch.Generator().manual_seed(0))]
    [4, 4, 2]
    """
    order = torch.randperm(n, generator=generator)  # (n,) every row once, shuffled
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]


def _batch_cases() -> list[Case]:
    def make(n: int, size: int, seed: int) -> Case:
        return Case(
            f"n={n}, batch_size={size}", lambda: (n, size, torch.Generator().manual_seed(seed))
        )

    return [make(10, 4, 0), make(64, 8, 1), make(37, 5, 2), make(20, 1, 3), make(9, 9, 4)]


def _observe_batches(fn: object, args: Args) -> Outputs:
    """Two calls with the same seed and one with another: reproducible, and really shuffled."""
    n, size, generator = args
    seed = generator.initial_seed()
    calls = [fn(n, size, torch.Generator().manual_seed(s)) for s in (seed, seed, seed + 1)]  # type: ignore[operator]
    for batches in calls:
        if not isinstance(batches, list | tuple) or not all(isinstance(b, Tensor) for b in batches):
            raise TypeError("should return a list of 1-D tensors of row indices")
    first, again, other = ([b.reshape(-1).long() for b in c] for c in calls)
    return {
        "sizes": torch.tensor([len(b) for b in first]),
        "rows": torch.cat(first) if first else torch.zeros(0, dtype=torch.long),
        "same seed": torch.cat(again) if again else torch.zeros(0, dtype=torch.long),
        "other seed": torch.cat(other) if other else torch.zeros(0, dtype=torch.long),
    }


def _judge_batches(got: Outputs, args: Args) -> Verdict | None:
    """Every row exactly once; full batches then one short one; shuffled by the generator."""
    n, size, _ = args
    sizes, rows = got["sizes"].tolist(), got["rows"]
    expected_sizes = [size] * (n // size) + ([n % size] if n % size else [])  # the closed form
    counts = torch.bincount(rows.clamp(0, n), minlength=n + 1) if len(rows) else torch.zeros(n)
    if len(rows) and (rows.min() < 0 or rows.max() >= n):
        return f"row {int(rows.max())} does not exist (rows are 0..{n - 1})", (
            "use torch.randperm(n): it gives 0..n-1, each once"
        )
    if len(rows) and int(counts.max()) > 1:
        row = int(counts.argmax())
        return f"row {row} appears {int(counts[row])} times in one epoch", (
            "sample without replacement: shuffle once with torch.randperm(n, "
            "generator=generator) and cut the permutation into pieces"
        )
    missing = n - len(rows)
    if missing > 0 and all(s == size for s in sizes):
        return f"{missing} rows never appear (batch sizes {sizes}, expected {expected_sizes})", (
            f"the last, short batch is missing: n={n} with batch_size={size} is "
            f"{len(expected_sizes)} batches {expected_sizes}; range(0, n, batch_size) "
            "reaches the last start"
        )
    if missing > 0:
        return f"{missing} rows never appear in the epoch", (
            "every row once per epoch: cut all of torch.randperm(n) into pieces"
        )
    if sizes != expected_sizes:
        return f"batch sizes are {sizes}, expected {expected_sizes}", (
            "cut consecutive pieces of batch_size rows: order[start : start + batch_size] "
            "for start in range(0, n, batch_size)"
        )
    if n >= 4 and torch.equal(rows, torch.arange(n)):
        return "the rows come in order 0, 1, 2, ...", (
            "shuffle: take the order from torch.randperm(n, generator=generator)"
        )
    if not torch.equal(rows, got["same seed"]):
        return "the same seed gave different batches", (
            "use the generator you are given (torch.randperm(n, generator=generator)), so a "
            "seed always gives the same batches"
        )
    if n >= 4 and torch.equal(rows, got["other seed"]):
        return "another seed gave the same order", (
            "shuffle with the generator you are given: torch.randperm(n, generator=generator)"
        )
    return None


MINIBATCHES = Exercise(
    id="1.3.1",
    title="a shuffled mini-batch iterator",
    solution=minibatches,
    cases=_batch_cases,
    oracle_name="every row once, sizes [B, ..., B, n mod B], shuffled by the seed",
    observe=_observe_batches,
    judge=_judge_batches,
    hints=(
        "shuffle the row numbers once, then cut the shuffled list into pieces of batch_size",
        "order = torch.randperm(n, generator=generator); "
        "[order[s : s + batch_size] for s in range(0, n, batch_size)]",
    ),
)

# ---------------------------------------------------------------- exercise 1.3.2: an epoch


def minibatch_epoch(
    X: Tensor, y: Tensor, w: Tensor, b: Tensor, lr: float, batches: list[Tensor]
) -> tuple[Tensor, Tensor]:
    """One epoch of mini-batch gradient descent for linear regression, by hand.

    X is (N, d), y is (N,), w is (d,), b a scalar tensor; ``batches`` holds 1-D tensors of row
    indices. For each batch, in order: take its rows Xb, yb, compute r = Xb @ w + b - yb and
    step w <- w - lr * 2/B Xb^T r, b <- b - lr * 2/B sum(r), with B the batch's own size. Return
    the new (w, b).

    >>> X = torch.tensor([[1.0], [2.0]]); y = torch.tensor([2.0, 4.0])
    >>> minibatch_epoch(X, y, torch.zeros(1), torch.tensor(0.0), 0.1, [torch.tensor([1])])
    (tensor([1.6000]), tensor(0.8000))
    """
    for idx in batches:
        Xb, yb = X[idx], y[idx]  # (B, d), (B,): this batch's rows only
        r = Xb @ w + b - yb  # (B,)
        w, b = w - lr * 2 / len(idx) * (Xb.T @ r), b - lr * 2 / len(idx) * r.sum()
    return w, b


def _epoch_cases() -> list[Case]:
    def make(n: int, d: int, size: int, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            X = torch.randn(n, d, generator=g)
            y = X @ torch.randn(d, generator=g) + 0.3 * torch.randn(n, generator=g)
            w, b = torch.randn(d, generator=g), torch.randn((), generator=g)
            order = torch.randperm(n, generator=g)
            return X, y, w, b, 0.05, [order[s : s + size] for s in range(0, n, size)]

        return Case(f"N={n}, d={d}, batches of {size}", args)

    return [make(10, 1, 4, 0), make(64, 3, 16, 1), make(37, 2, 5, 2)]


def _torch_epoch(
    X: Tensor,
    y: Tensor,
    w: Tensor,
    b: Tensor,
    lr: float,
    batches: list[Tensor],
    rows: str = "batch",
    reduction: str = "mean",
) -> Outputs:
    """torch.optim.SGD over the batches; ``rows="all"`` and ``reduction="sum"`` are mistakes."""
    w, b = w.clone().requires_grad_(), b.clone().requires_grad_()
    optimizer = torch.optim.SGD([w, b], lr=lr)
    for idx in batches:
        Xb, yb = (X[idx], y[idx]) if rows == "batch" else (X, y)
        optimizer.zero_grad()
        F.mse_loss(Xb @ w + b, yb, reduction=reduction).backward()
        optimizer.step()
    return {"w": w.detach(), "b": b.detach()}


MINIBATCH_EPOCH = Exercise(
    id="1.3.2",
    title="an epoch of mini-batch gradient descent",
    solution=minibatch_epoch,
    cases=_epoch_cases,
    oracle=_torch_epoch,
    oracle_name="torch.optim.SGD on autograd's gradients, one step per batch",
    outputs=("w", "b"),
    hints=(
        "one update per batch, each from that batch's rows only, with the weights the "
        "previous update left",
        "Xb, yb = X[idx], y[idx]; r = Xb @ w + b - yb; divide by len(idx), not by N",
    ),
    mistakes=(
        Mistake(
            "the whole data in every step",
            "each update uses only its batch's rows: Xb, yb = X[idx], y[idx] (you used all of X)",
            lambda X, y, w, b, lr, batches: _torch_epoch(X, y, w, b, lr, batches, rows="all"),
        ),
        Mistake(
            "sum instead of mean",
            "divide by the batch's size: the loss is the batch mean, so its gradient is "
            "2/B Xb.T @ r (you summed)",
            lambda X, y, w, b, lr, batches: _torch_epoch(X, y, w, b, lr, batches, reduction="sum"),
        ),
    ),
)

LESSON = Lesson(
    id="1.3",
    title="Batch vs stochastic vs mini-batch",
    minutes=20,
    eli5=(
        "To know which way is downhill you can ask every example (full batch: exact, but one "
        "step per pass over the data), one example (stochastic: a step per example, but each "
        "one is a noisy guess), or a handful (mini-batch: the usual compromise). More examples "
        "per step make each step's direction less noisy, by the square root of how many."
    ),
    equations=(
        r"g_B = \frac{1}{B} \sum_{i \in \mathcal{B}} \nabla_\theta \ell_i(\theta), \qquad "
        r"\mathbb{E}[g_B] = \nabla_\theta L(\theta)",
        r"\operatorname{std}\Big[\frac{1}{B} \sum_{i \in \mathcal{B}} \ell_i\Big] = "
        r"\frac{\sigma}{\sqrt{B}} \sqrt{\frac{N - B}{N - 1}}",
        r"\text{updates per epoch} = \lceil N / B \rceil",
    ),
    look_at=(
        "batch_sizes.png, left: per epoch, batch 1 falls fastest (it makes N updates per "
        "epoch), full batch slowest (one update)",
        "batch_sizes.png, right: per update, the small batches' losses scatter; the band "
        "narrows as the batch grows",
        "the measured noise ratio between batch 1 and batch 8 is close to sqrt(8)",
    ),
    demos=(Demo("noise by batch size", noise_by_batch_size, ("batch_sizes.png",)),),
    exercises=(MINIBATCHES, MINIBATCH_EPOCH),
)
