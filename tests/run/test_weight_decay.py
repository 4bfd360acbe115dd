r"""Decoupled weight decay (AdamW) against L2 in the loss with Adam: they differ, and why.

Adam + L2 adds $\lambda\theta$ to the gradient, and Adam then divides the whole gradient by
$\sqrt{\hat v}$: the decay is normalized away, so every weight shrinks by about ``lr`` per step
whatever its size, and weights with large gradients shrink least. AdamW shrinks each weight by
$\mathrm{lr}\,\lambda\,\theta$ outside the adaptive step, in proportion to the weight.
"""

from __future__ import annotations

import torch

from looplab.config import Config
from looplab.run.optimizers import build_optimizer


def one_step(optimizer: str, weights: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """The weights after one step of the named optimizer (lr 0.01, weight decay 0.1)."""
    p = torch.nn.Parameter(weights.clone())
    opt = build_optimizer([p], Config(optimizer=optimizer, lr=0.01, weight_decay=0.1))
    p.grad = grad.clone()
    opt.step()
    return p.detach()


def test_with_no_gradient_adamw_shrinks_in_proportion_and_adam_l2_by_lr() -> None:
    w = torch.tensor([4.0, 0.5, -0.05, -2.0])
    zero = torch.zeros(4)
    adamw = one_step("adamw", w, zero)
    adam_l2 = one_step("adam", w, zero)
    # AdamW: theta <- theta - lr * lambda * theta (the adaptive step is 0 with no gradient)
    torch.testing.assert_close(adamw, w * (1 - 0.01 * 0.1), rtol=0, atol=1e-7)
    # Adam + L2: g = lambda * theta, first step m_hat / sqrt(v_hat) = g / |g| = sign(theta)
    torch.testing.assert_close(adam_l2, w - 0.01 * torch.sign(w), rtol=0, atol=1e-6)
    # the same coefficient, a different decay: 250x more on the small weight under Adam + L2
    assert float((w - adam_l2)[2] / (w - adamw)[2]) > 100


def test_adam_l2_decays_weights_with_large_gradients_least() -> None:
    w = torch.tensor([1.0, 1.0])
    grad = torch.tensor([0.0, 10.0])  # the second weight has a large loss gradient
    p = torch.nn.Parameter(w.clone())
    p_w = torch.nn.Parameter(w.clone())
    l2 = build_optimizer([p], Config(optimizer="adam", lr=0.01, weight_decay=0.1))
    decoupled = build_optimizer([p_w], Config(optimizer="adamw", lr=0.01, weight_decay=0.1))
    plain = torch.nn.Parameter(w.clone())
    no_decay = build_optimizer([plain], Config(optimizer="adam", lr=0.01, weight_decay=0.0))
    for _ in range(20):
        for param, opt in ((p, l2), (p_w, decoupled), (plain, no_decay)):
            param.grad = grad.clone()
            opt.step()
    # the decay's share of each weight's movement: what the weight lost beyond plain Adam
    decay_l2 = (plain.detach() - p.detach()).abs()
    decay_w = (plain.detach() - p_w.detach()).abs()
    # Adam + L2: the large gradient swamps lambda * theta in v, so its decay is ~100x smaller
    assert float(decay_l2[1]) < float(decay_l2[0]) / 50
    # AdamW: both decay alike, gradient or not (lr * lambda * theta a step; they differ only as
    # the weights do, the second one moving from 1.0 to 0.8 under its gradient)
    torch.testing.assert_close(decay_w[0], decay_w[1], rtol=0.15, atol=0)
