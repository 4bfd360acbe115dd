r"""Mixup (Zhang et al., 2018): train on convex combinations of pairs of examples and of their
labels, $\tilde x = \lambda x_i + (1 - \lambda) x_j$, $\tilde y = \lambda y_i + (1 - \lambda) y_j$
with one-hot $y$ and $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ per batch, $j$ a shuffled
partner of $i$ in the same batch. The model is asked to be linear between examples, which
smooths its decision boundary.

The $\lambda$ and partners of a whole epoch are drawn right after its permutation from the
batches' own generator (through one seed for numpy's Beta sampler, which torch lacks with a
generator), so a resumed epoch draws them again: resume stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Mixup:
    """Mix each batch with a shuffled copy of itself, ``alpha`` the Beta distribution's shape
    (0.2 to 0.4 is usual: most $\\lambda$ near 0 or 1), ``classes`` the width of the one-hot
    labels."""

    alpha: float
    classes: int

    def draw(self, batches: int, batch_size: int, generator: torch.Generator) -> list[
        tuple[float, Tensor]
    ]:  # fmt: skip
        """One epoch's (lambda, partner permutation (batch_size,)) per batch."""
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        lambdas = rng.beta(self.alpha, self.alpha, size=batches)
        return [(float(lam), torch.from_numpy(rng.permutation(batch_size))) for lam in lambdas]

    def apply(self, X: Tensor, y: Tensor, lam: float, partners: Tensor) -> tuple[Tensor, Tensor]:
        """The mixed batch: inputs (batch, ...) and soft labels (batch, classes), rows summing
        to 1. ``partners`` may be longer than a short last batch: its first rows are used."""
        n = len(X)
        partner = partners[partners < n][:n].to(X.device)  # (batch,) a permutation of 0..n-1
        soft = F.one_hot(y.long(), self.classes).to(X.dtype)  # (batch, classes)
        return lam * X + (1 - lam) * X[partner], lam * soft + (1 - lam) * soft[partner]
