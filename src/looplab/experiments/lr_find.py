r"""The learning-rate range test (Smith 2017; the "LR finder" of fastai): train a COPY of the
model for a few hundred steps while the learning rate grows exponentially,
$\eta_t = \eta_0 (\eta_1 / \eta_0)^{t / (T - 1)}$, and watch the loss.

At tiny rates the loss barely moves, in the good range it falls fast, and past it the loss
explodes. The suggestion is the rate where the smoothed loss falls fastest per decade
(the steepest negative slope of the smoothed loss against $\log_{10}\eta$, before its minimum).
The model passed in is never trained: its weights are identical before and after.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from looplab.config import Config
from looplab.data.batches import make_batches
from looplab.data.prepared import PreparedData
from looplab.errors import ConfigError
from looplab.models.losses import TaskLoss
from looplab.run.optimizers import build_optimizer
from looplab.run.threads import torch_threads

MAX_STEPS = 100_000


@dataclass
class LRFinderResult:
    """Per step: the learning rate used, the batch loss, and its bias-corrected moving average."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float  # NaN when the loss never fell
    suggestion_index: int
    stopped_early: bool  # the loss exploded before end_lr
    min_lr: float  # the rate at the lowest smoothed loss
    interrupted: bool = False  # ``stop()`` said so before the last step (Ctrl-C)

    @property
    def steps(self) -> int:
        return len(self.lrs)


def steepest_descent(lrs: list[float], smoothed: list[float], decades: float = 0.25) -> int:
    """Index of the steepest fall of ``smoothed`` against log10(lr) before its minimum; -1 when
    the loss never fell. The slope is a central difference over ``decades`` on each side, so
    batch-to-batch noise (large over a tiny step of log lr) does not pass for a fall."""
    loss = np.asarray(smoothed, dtype=float)
    logs = np.log10(np.asarray(lrs, dtype=float))
    lowest = int(np.argmin(loss))
    per_decade = (len(logs) - 1) / max(logs[-1] - logs[0], 1e-12)
    k = max(1, round(decades * per_decade))
    if lowest < 2 * k:
        return -1
    i = np.arange(k, lowest + 1)  # centres with a full window on the left
    right = np.minimum(i + k, lowest)
    slope = (loss[right] - loss[i - k]) / (logs[right] - logs[i - k])
    best = int(np.argmin(slope))
    return int(i[best]) if slope[best] < 0 else -1


def check_range(start_lr: float, end_lr: float, steps: int) -> None:
    """The range test's own settings, or a ConfigError naming the bad one."""
    if not (math.isfinite(start_lr) and math.isfinite(end_lr) and 0 < start_lr < end_lr):
        raise ConfigError(
            f"the range test needs 0 < start lr < end lr, got {start_lr} and {end_lr}"
        )
    if steps < 10:
        raise ConfigError(f"the range test needs at least 10 steps, got {steps}")
    if steps > MAX_STEPS:
        raise ConfigError(f"the range test takes at most {MAX_STEPS:,} steps, got {steps:,}")


def lr_range_test(
    model: nn.Module,
    data: PreparedData,
    config: Config,
    *,
    start_lr: float = 1e-6,
    end_lr: float = 10.0,
    steps: int = 200,
    beta: float = 0.9,
    diverge: float = 4.0,
    on_step: Callable[[int, int], None] = lambda step, total: None,
    stop: Callable[[], bool] = lambda: False,
) -> LRFinderResult:
    """Run the range test with ``config``'s optimizer and batch size on a deep copy of ``model``;
    stop early when the smoothed loss exceeds ``diverge`` times its minimum (or is not finite),
    or when ``stop()`` is true (the result of the steps done so far is ``interrupted``)."""
    check_range(start_lr, end_lr, steps)
    trial = copy.deepcopy(model)  # the user's model is never touched
    trial.train()
    device = next(trial.parameters()).device
    optimizer = build_optimizer(trial.parameters(), config.replace(lr=start_lr))
    loss_fn = TaskLoss(data.task)
    generator = torch.Generator().manual_seed(config.seed)
    batches = make_batches(data.train, config.batch_size, generator=generator, device=device)
    factor = (end_lr / start_lr) ** (1 / (steps - 1))
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    average, best, stopped, interrupted = 0.0, math.inf, False, False

    def forever() -> Iterator[tuple[Tensor, Tensor]]:  # epoch after epoch, as long as needed
        while True:
            yield from batches.epoch()

    with torch_threads(1):  # small steps: 2-5x faster without intra-op thread hand-offs
        for step, (xb, yb) in zip(range(steps), forever(), strict=False):
            if stop():
                interrupted = True
                break
            lr = start_lr * factor**step
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = loss_fn(trial(xb), yb)  # (,) mean over the batch
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            average = beta * average + (1 - beta) * value
            smooth = average / (1 - beta ** (step + 1))  # bias-corrected, as in Adam
            lrs.append(lr)
            losses.append(value)
            smoothed.append(smooth)
            on_step(step + 1, steps)
            if not math.isfinite(smooth) or smooth > diverge * best:
                stopped = True
                break
            best = min(best, smooth)
    if not lrs:  # stopped before the first step
        return LRFinderResult([], [], [], math.nan, -1, False, math.nan, interrupted)
    finite = [s if math.isfinite(s) else math.inf for s in smoothed]
    index = steepest_descent(lrs, finite)
    lowest = int(np.argmin(finite))
    suggestion = lrs[index] if index >= 0 else math.nan
    return LRFinderResult(
        lrs, losses, smoothed, suggestion, index, stopped, lrs[lowest], interrupted
    )


__all__ = ["LRFinderResult", "lr_range_test", "steepest_descent"]
