"""Mixup in the batch iterator: inputs and labels are the same convex combinations of pairs of
rows, drawn reproducibly from the batches' generator; a linear model's outputs mix alike."""

from __future__ import annotations

import torch

from looplab.data.batches import Batches
from looplab.data.mixup import Mixup
from looplab.loop.metrics import RunningMetrics
from looplab.models.mlp import ModelSpec, build_model

N = 60


def row_batches(alpha: float = 0.4, seed: int = 3) -> tuple[torch.Tensor, Batches]:
    """Batches whose label is the row's index, one-hot over N 'classes': each soft label then
    says exactly which rows, in which shares, a mixed input is made of."""
    X = torch.randn(N, 7, generator=torch.Generator().manual_seed(0))
    batches = Batches(X, torch.arange(N), 16, generator=torch.Generator().manual_seed(seed),
                      mixup=Mixup(alpha, classes=N))  # fmt: skip
    return X, batches


def test_mixed_inputs_and_labels_are_the_same_convex_combinations() -> None:
    X, batches = row_batches()
    seen_lambdas = []
    for xb, yb in batches.epoch():
        assert yb.shape == (len(xb), N)
        assert (yb >= 0).all() and torch.allclose(yb.sum(dim=1), torch.ones(len(xb)))
        assert ((yb > 0).sum(dim=1) <= 2).all()  # a row and its partner
        torch.testing.assert_close(xb, yb @ X, rtol=0, atol=1e-5)  # the same weights
        seen_lambdas.append(float(yb.max(dim=1).values.min()))
    assert len(set(seen_lambdas)) > 1  # a new lambda per batch


def test_a_linear_models_logits_mix_as_the_labels_do() -> None:
    X, batches = row_batches()
    linear = build_model(ModelSpec(7, 3), seed=0)  # logits = x W^T + b: affine in x
    with torch.no_grad():
        for xb, yb in batches.epoch():
            torch.testing.assert_close(linear(xb), yb @ linear(X), rtol=0, atol=1e-5)


def test_mixing_is_seeded_and_resumes_mid_epoch() -> None:
    _, first = row_batches(seed=5)
    _, second = row_batches(seed=5)
    a, b = list(first.epoch()), list(second.epoch())
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    state = first.generator.get_state()  # before epoch 2
    epoch2 = list(first.epoch())
    first.load_state_dict({"shuffle": state, "shuffle_epoch": state}, mid_epoch=True)
    for (xa, ya), (xb, yb) in zip(list(first.epoch(skip=2)), epoch2[2:], strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_small_alpha_mixes_little() -> None:
    """Beta(0.2, 0.2) puts most lambdas near 0 or 1: most mixed examples are mostly one row."""
    draws = Mixup(0.2, 10).draw(2000, 4, torch.Generator().manual_seed(0))
    lam = torch.tensor([d[0] for d in draws])
    near_ends = ((lam < 0.1) | (lam > 0.9)).float().mean()
    assert abs(float(near_ends) - 0.673) < 0.03  # Beta(0.2, 0.2): P(l < 0.1 or l > 0.9) = 0.673
    assert abs(float(lam.mean()) - 0.5) < 0.03


def test_training_accuracy_counts_the_larger_share() -> None:
    metrics = RunningMetrics("multiclass")
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    soft = torch.tensor([[0.8, 0.2, 0.0], [0.0, 0.6, 0.4]])  # larger shares: 0 and 1
    metrics.update(torch.tensor(1.0), logits, soft)
    assert metrics.result()["accuracy"] == 0.5
