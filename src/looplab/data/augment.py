r"""Data augmentation on tensors, in the batch iterator: random shifts and small rotations of
images, drawn for a whole epoch at once from the batches' own generator and applied on the
batch's device, batched.

Each image $k$ gets an affine map of the sampling grid, a rotation by $\alpha_k$ and a shift by
$(t_x, t_y)$ whole pixels,
$$\begin{pmatrix} x' \\ y' \end{pmatrix} = \begin{pmatrix} \cos\alpha_k & -\sin\alpha_k \\
\sin\alpha_k & \cos\alpha_k \end{pmatrix} \begin{pmatrix} x \\ y \end{pmatrix} +
\begin{pmatrix} 2 t_x / W \\ 2 t_y / H \end{pmatrix}$$
in the $[-1, 1]$ coordinates of ``F.affine_grid``; ``F.grid_sample`` reads the image there
(bilinear; outside the image it repeats the border, the background of a digit). Since the
parameters of a whole epoch are drawn right after its permutation, a resumed epoch (its
generator rewound to before the permutation) draws the same ones: resume stays exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Augment:
    """Shifts of up to ``shift`` whole pixels in x and y and rotations of up to ``rotate``
    degrees either way, each drawn uniformly per image."""

    shift: int = 0
    rotate: float = 0.0

    @property
    def active(self) -> bool:
        return self.shift > 0 or self.rotate > 0

    def draw(self, rows: int, generator: torch.Generator) -> Tensor:
        """The parameters of ``rows`` images, (rows, 3): shift x, shift y (pixels), angle
        (radians); one draw from ``generator`` for the whole epoch."""
        shifts = torch.randint(-self.shift, self.shift + 1, (rows, 2), generator=generator)
        angles = (torch.rand(rows, generator=generator) * 2 - 1) * math.radians(self.rotate)
        return torch.cat([shifts.float(), angles[:, None]], dim=1)

    def apply(self, X: Tensor, params: Tensor) -> Tensor:
        """Images (batch, C, H, W) shifted and rotated by ``params`` (batch, 3)."""
        height, width = X.shape[-2:]
        params = params.to(X.device)
        cos, sin = torch.cos(params[:, 2]), torch.sin(params[:, 2])
        theta = torch.stack([
            torch.stack([cos, -sin, -2 * params[:, 0] / width], dim=1),
            torch.stack([sin, cos, -2 * params[:, 1] / height], dim=1),
        ], dim=1)  # (batch, 2, 3): output pixel -> where it is read from  # fmt: skip
        grid = F.affine_grid(theta, list(X.shape), align_corners=False)  # (batch, H, W, 2)
        return F.grid_sample(X, grid, mode="bilinear", padding_mode="border", align_corners=False)
