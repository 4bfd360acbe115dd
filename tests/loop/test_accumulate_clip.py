"""Gradient accumulation and clipping in the kernel, against the step written out by hand.

Accumulation: K micro-batches of b rows, each loss scaled by 1/K, then one step, must equal one
step on the K*b rows (float64, mean-reduced loss, no dropout). Clipping: the oracle rescales the
flattened gradient by hand, g * c / ||g|| when ||g|| > c, with the norm computed from the
concatenated gradient (not by torch's clip_grad_norm_, which the kernel calls).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from looplab import loop
from looplab.data.batches import Batches
from looplab.loop import Callback, History, LoopState
from looplab.loop.snapshot import Snapshot, capture
from looplab.models import TaskLoss
from looplab.watch.clipping import ClipCounter

ROWS = 96


def dataset() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(3)
    X = torch.randn(ROWS, 5, generator=g, dtype=torch.float64)  # (rows, 5)
    score = X @ torch.tensor([1.0, -1.0, 0.5, 0.0, 2.0], dtype=torch.float64)  # (rows,)
    y = torch.bucketize(score, torch.tensor([-1.0, 1.0], dtype=torch.float64))  # 3 classes
    return X, y


def network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 12), nn.Tanh(), nn.Linear(12, 3)).double()


def train(batch: int, accumulate: int, epochs: int = 2, optimizer: str = "adam") -> nn.Module:
    X, y = dataset()
    model = network()
    opt: torch.optim.Optimizer = (
        torch.optim.Adam(model.parameters(), lr=0.05)
        if optimizer == "adam"
        else torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    )
    batches = Batches(X, y, batch, generator=torch.Generator().manual_seed(7))
    loop.fit(model, batches, TaskLoss("multiclass"), opt, epochs=epochs, task="multiclass",
             accumulate=accumulate)  # fmt: skip
    return model


def max_difference(a: nn.Module, b: nn.Module) -> float:
    return max(
        float((p - q).detach().abs().max())
        for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize(("micro", "k"), [(8, 4), (16, 2), (4, 8)])
def test_k_micro_batches_equal_one_batch_of_k_times_the_rows(
    optimizer: str, micro: int, k: int
) -> None:
    whole = train(micro * k, 1, optimizer=optimizer)
    accumulated = train(micro, k, optimizer=optimizer)
    assert max_difference(whole, accumulated) < 1e-6
    # and the comparison can fail: without accumulation the same micro-batches take K steps
    assert max_difference(whole, train(micro, 1, optimizer=optimizer)) > 1e-3


def test_accumulation_counts_steps_and_calls_batch_end_once_per_step() -> None:
    X, y = dataset()
    model = network()
    seen: list[tuple[int, int]] = []

    class Steps(Callback):
        def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
            seen.append((batch, state.step))

    # 96 rows in batches of 20: 5 micro-batches an epoch (the last of 16 rows); K = 2 gives
    # windows (0, 1), (2, 3) and a last one of a single micro-batch (4)
    loop.fit(model, Batches(X, y, 20), TaskLoss("multiclass"),
             torch.optim.SGD(model.parameters(), lr=0.1), epochs=1, task="multiclass",
             accumulate=2, callbacks=[Steps()])  # fmt: skip
    assert seen == [(1, 1), (3, 2), (4, 3)]


def test_the_epoch_s_short_last_window_is_the_mean_of_its_micro_batches() -> None:
    """5 micro-batches with K = 2: the last step has one micro-batch, its loss unscaled."""
    X, y = dataset()
    X, y = X[:40], y[:40]  # 5 micro-batches of 8
    model, oracle = network(), network()
    loss_fn = TaskLoss("multiclass")
    loop.fit(model, Batches(X, y, 8, shuffle=False), loss_fn,
             torch.optim.SGD(model.parameters(), lr=0.1), epochs=1, task="multiclass",
             accumulate=2)  # fmt: skip
    opt = torch.optim.SGD(oracle.parameters(), lr=0.1)
    for rows in (slice(0, 16), slice(16, 32), slice(32, 40)):  # windows of 16, 16 and 8 rows
        opt.zero_grad()
        loss_fn(oracle(X[rows]), y[rows]).backward()  # the mean over the window's rows
        opt.step()
    assert max_difference(model, oracle) < 1e-12


class Record(Callback):
    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        assert state.grad_norm is not None
        self.norms.append(float(state.grad_norm))


def test_clipping_rescales_the_whole_gradient_as_written_by_hand() -> None:
    X, y = dataset()
    clip = 0.5
    model, oracle = network(), network()
    loss_fn = TaskLoss("multiclass")
    record, counter = Record(), ClipCounter()
    history: History = loop.fit(
        model, Batches(X, y, 16, shuffle=False), loss_fn,
        torch.optim.SGD(model.parameters(), lr=0.5), epochs=3, task="multiclass",
        clip_norm=clip, callbacks=[record, counter],
    )  # fmt: skip
    opt = torch.optim.SGD(oracle.parameters(), lr=0.5)
    norms, clipped = [], []
    for _ in range(3):
        for start in range(0, ROWS, 16):
            opt.zero_grad()
            loss_fn(oracle(X[start : start + 16]), y[start : start + 16]).backward()
            grads = [p.grad for p in oracle.parameters() if p.grad is not None]
            norm = float(torch.cat([g.reshape(-1) for g in grads]).pow(2).sum().sqrt())
            norms.append(norm)
            clipped.append(norm > clip)
            if norm > clip:
                for g in grads:
                    g.mul_(clip / (norm + 1e-6))  # torch's documented rule: c / (||g|| + 1e-6)
            opt.step()
    assert max_difference(model, oracle) < 1e-10
    assert record.norms == pytest.approx(norms, rel=1e-10)
    steps = ROWS // 16
    for epoch in range(3):
        part = clipped[epoch * steps : (epoch + 1) * steps]
        assert history.rows[epoch]["clip_frac"] == sum(part) / steps
    assert 0 < sum(clipped) < len(clipped)  # some steps clipped and some not: both cases seen
    # and the rule changed the run: without the clip the weights end elsewhere
    free = network()
    loop.fit(free, Batches(X, y, 16, shuffle=False), loss_fn,
             torch.optim.SGD(free.parameters(), lr=0.5), epochs=3, task="multiclass")  # fmt: skip
    assert max_difference(model, free) > 1e-3


def test_clipping_and_accumulation_compose_the_clip_sees_the_summed_gradient() -> None:
    clip = 0.3
    X, y = dataset()
    runs = []
    for batch, k in ((32, 1), (8, 4)):
        model = network()
        loop.fit(model, Batches(X, y, batch, generator=torch.Generator().manual_seed(1)),
                 TaskLoss("multiclass"), torch.optim.SGD(model.parameters(), lr=0.5),
                 epochs=2, task="multiclass", accumulate=k, clip_norm=clip)  # fmt: skip
        runs.append(model)
    assert max_difference(*runs) < 1e-6


class StopAt(Callback):
    """Snapshots the loop and the counter after update ``at``, then dies (a crash)."""

    def __init__(self, at: int, counter: ClipCounter) -> None:
        self.at, self.counter = at, counter
        self.saved: tuple[Snapshot, dict[str, Tensor]] | None = None

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: Tensor) -> None:
        if state.step == self.at:
            self.saved = (capture(state), self.counter.state_dict())
            raise RuntimeError("killed")


def test_a_clip_counter_resumed_mid_epoch_reports_the_whole_epoch() -> None:
    X, y = dataset()

    def run(callbacks: list[Callback], resume: Snapshot | None = None) -> History:
        model = network()
        return loop.fit(model, Batches(X, y, 8, generator=torch.Generator().manual_seed(2)),
                        TaskLoss("multiclass"), torch.optim.SGD(model.parameters(), lr=0.5),
                        epochs=2, task="multiclass", clip_norm=0.3, accumulate=2,
                        callbacks=callbacks, resume=resume)  # fmt: skip

    whole = run([ClipCounter()])
    first = ClipCounter()
    stop = StopAt(9, first)  # 6 updates an epoch: the 3rd of epoch 2
    with pytest.raises(RuntimeError, match="killed"):
        run([first, stop])
    assert stop.saved is not None
    snapshot, counted = stop.saved
    assert len(counted["norms"]) == 3  # epoch 2's norms so far
    second = ClipCounter()
    second.load_state_dict(counted)
    resumed = run([second], resume=snapshot)
    assert resumed.rows[-1]["grad_norm"] == whole.rows[-1]["grad_norm"]
    assert resumed.rows[-1]["clip_frac"] == whole.rows[-1]["clip_frac"]
    # and the test can fail: a fresh counter sees only the last 3 updates of the epoch
    fresh = run([ClipCounter()], resume=snapshot)
    assert fresh.rows[-1]["grad_norm"] != whole.rows[-1]["grad_norm"]
