"""Accumulation and clipping in the optimizer: against a plain AdamW, clip_grad_norm_ by hand,
one big batch, and an uninterrupted run (a checkpoint taken inside a group)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor, nn

from looplab.run.accumulate import AccumulateClip, PerUpdate
from looplab.run.schedules import LoopSchedule

X = torch.randn(16, 5, generator=torch.Generator().manual_seed(0))
Y = torch.randn(16, 1, generator=torch.Generator().manual_seed(1))


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))


def loop_step(
    m: nn.Module, opt: AccumulateClip | torch.optim.Optimizer, x: Tensor, y: Tensor
) -> None:
    """What looplab.loop.fit does per batch."""
    loss = nn.functional.mse_loss(m(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


def same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_one_batch_per_update_and_no_clipping_is_plain_adamw() -> None:
    a, b = model(), model()
    plain = torch.optim.AdamW(a.parameters(), lr=0.01)
    wrapped = AccumulateClip(torch.optim.AdamW(b.parameters(), lr=0.01))
    for i in range(0, 16, 4):
        loop_step(a, plain, X[i : i + 4], Y[i : i + 4])
        loop_step(b, wrapped, X[i : i + 4], Y[i : i + 4])
        assert wrapped.updated
    assert same(a, b)


def test_clipping_is_clip_grad_norm_before_the_step() -> None:
    a, b = model(), model()
    plain = torch.optim.SGD(a.parameters(), lr=0.1)
    wrapped = AccumulateClip(torch.optim.SGD(b.parameters(), lr=0.1), clip_norm=0.05)
    loss = nn.functional.mse_loss(a(X), Y)
    plain.zero_grad()
    loss.backward()
    grads = [p.grad for p in a.parameters() if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    assert norm > 0.05  # the clipping matters here
    for p in a.parameters():
        assert p.grad is not None
        p.grad.mul_(0.05 / (norm + 1e-6))  # clip_grad_norm_'s rule, written out
    plain.step()
    loop_step(b, wrapped, X, Y)
    assert wrapped.last_norm == pytest.approx(float(norm), rel=1e-6)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-7)


def test_a_gradient_below_the_limit_is_not_clipped() -> None:
    a, b = model(), model()
    loop_step(a, AccumulateClip(torch.optim.SGD(a.parameters(), lr=0.1)), X, Y)
    loop_step(b, AccumulateClip(torch.optim.SGD(b.parameters(), lr=0.1), clip_norm=1e6), X, Y)
    assert same(a, b)


def test_accumulating_k_batches_is_one_step_on_their_union() -> None:
    a, b = model(), model()
    big = torch.optim.AdamW(a.parameters(), lr=0.01)
    small = AccumulateClip(torch.optim.AdamW(b.parameters(), lr=0.01), every=4)
    updates = []
    for _ in range(2):
        loop_step(a, big, X, Y)  # one batch of 16
        for i in range(0, 16, 4):  # four batches of 4, equal sizes: their mean is the mean
            loop_step(b, small, X[i : i + 4], Y[i : i + 4])
            updates.append(small.updated)
    assert updates == [False, False, False, True] * 2
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    assert not same(a, model())  # it did train


def test_a_checkpoint_inside_a_group_resumes_exactly() -> None:
    def fresh() -> tuple[nn.Module, AccumulateClip]:
        m = model()
        return m, AccumulateClip(torch.optim.AdamW(m.parameters(), lr=0.01), every=3, clip_norm=0.5)

    a, opt_a = fresh()
    for i in range(0, 16, 2):
        loop_step(a, opt_a, X[i : i + 2], Y[i : i + 2])
    b, opt_b = fresh()
    for i in range(0, 8, 2):  # 4 batches: one update, then one batch into the next group
        loop_step(b, opt_b, X[i : i + 2], Y[i : i + 2])
    assert opt_b.pending == 1
    weights, state = copy.deepcopy(b.state_dict()), copy.deepcopy(opt_b.state_dict())
    c, opt_c = fresh()
    c.load_state_dict(weights)
    opt_c.load_state_dict(state)
    for i in range(8, 16, 2):
        loop_step(c, opt_c, X[i : i + 2], Y[i : i + 2])
    assert same(a, c)
    # without the saved gradients the resumed run would differ: the test can fail
    d, opt_d = fresh()
    d.load_state_dict(weights)
    opt_d.load_state_dict({**state, "accumulation": {"pending": 1, "grads": []}})
    for i in range(8, 16, 2):
        loop_step(d, opt_d, X[i : i + 2], Y[i : i + 2])
    assert not same(a, d)


def test_the_schedule_moves_once_per_update() -> None:
    m = model()
    opt = AccumulateClip(torch.optim.SGD(m.parameters(), lr=1.0), every=2)
    lr_sched = torch.optim.lr_scheduler.LambdaLR(opt.inner, lambda t: 0.5**t)
    schedule = PerUpdate(LoopSchedule(lr_sched, per_step=True), opt)
    seen = []
    for i in range(0, 12, 2):
        loop_step(m, opt, X[i : i + 2], Y[i : i + 2])
        schedule.after_update()
        seen.append(opt.param_groups[0]["lr"])
    assert seen == [1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
