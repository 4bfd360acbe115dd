r"""Preprocessing fitted on the training split only: mean imputation and standardization of
the features, and standardization of a regression target.

Standardization maps each feature to $z = (x - \mu) / \sigma$ with $\mu, \sigma$ of the training
rows, so no information from validation or test rows leaks into training. A regression target is
mapped the same way, $z_y = (y - \mu_y) / \sigma_y$, so the loss starts near 1 whatever the
target's units (a body mass in grams would start near $10^5$). The fitted numbers are saved with
the run so predictions on new rows are transformed the same way, and mapped back to the target's
units with $y = \mu_y + \sigma_y z_y$.

Images (rows, channels, height, width) are standardized per channel, with one $\mu$ and
$\sigma$ over all pixels of the channel (as ``torchvision.transforms.Normalize`` does): a
per-pixel $\sigma$ would blow up the rare ink on a digit's border into huge values.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Preprocessor:
    """Fill missing values with the training mean, then (optionally) standardize; a regression
    target is standardized with ``target_mean`` and ``target_std`` (0 and 1: left as it is)."""

    mean: Tensor  # (features,), or (channels, 1, 1) for images
    std: Tensor  # as mean; 1 where a feature is constant, or where standardize is off
    standardize: bool = True
    target_mean: float = 0.0
    target_std: float = 1.0

    @classmethod
    def fit(
        cls, X_train: Tensor, standardize: bool = True, y_train: Tensor | None = None
    ) -> Preprocessor:
        """Learn the per-feature mean and standard deviation, ignoring missing (NaN) values;
        with ``y_train`` (a regression target to standardize), its mean and deviation too.

        Without missing values nothing the size of the data is made (a column's sum is NaN
        exactly when the column has a NaN, or both infinities)."""
        if X_train.ndim == 4:  # images: one mean and deviation per channel, shaped (C, 1, 1)
            channels = X_train.transpose(0, 1).flatten(1).T  # (rows * H * W, C)
            mean, std = channels.mean(dim=0), _spread(channels)
            mean, std = mean[:, None, None], std[:, None, None]
            return cls(mean, std if standardize else torch.ones_like(std), standardize)
        if not torch.isnan(X_train.sum(dim=0)).any():
            mean, std = X_train.mean(dim=0), _spread(X_train)
        else:
            mean = torch.nanmean(X_train, dim=0)
            mean = torch.where(torch.isnan(mean), torch.zeros_like(mean), mean)
            std = _spread(torch.where(torch.isnan(X_train), mean, X_train))
        if not standardize:
            std = torch.ones_like(std)
        if y_train is None:
            return cls(mean, std, standardize)
        y = y_train.double().unsqueeze(1)  # (rows, 1): the target's statistics in float64
        return cls(mean, std, standardize, float(y.mean()), float(_spread(y)[0]))

    @property
    def scales_target(self) -> bool:
        """Whether the target the model sees is standardized (not in the data's units)."""
        return (self.target_mean, self.target_std) != (0.0, 1.0)

    def scale_target(self, y: Tensor) -> Tensor:
        r"""The target in the units the model learns: $(y - \mu_y) / \sigma_y$."""
        return (y - self.target_mean) / self.target_std

    def unscale_target(self, z: Tensor) -> Tensor:
        r"""A prediction back in the target's units: $\mu_y + \sigma_y z$."""
        return z * self.target_std + self.target_mean

    def transform(self, X: Tensor, in_place: bool = False) -> Tensor:
        """Impute then scale (rows, features): a new tensor, or ``X`` itself changed when
        ``in_place`` (for a copy the caller owns: the data is then held once, not twice)."""
        out = X if in_place else X.clone()
        if torch.isnan(out.sum(dim=0)).any():
            torch.where(torch.isnan(out), self.mean, out, out=out)
        return out.sub_(self.mean).div_(self.std) if self.standardize else out

    def state_dict(self) -> dict[str, Tensor | bool | float]:
        return {
            "mean": self.mean,
            "std": self.std,
            "standardize": self.standardize,
            "target_mean": self.target_mean,
            "target_std": self.target_std,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Tensor | bool | float]) -> Preprocessor:
        """Read :meth:`state_dict`; files written before targets were standardized have no
        target statistics and read as a target left in its units (mean 0, scale 1)."""
        mean, std = state["mean"], state["std"]
        assert isinstance(mean, Tensor) and isinstance(std, Tensor)
        target = float(state.get("target_mean", 0.0)), float(state.get("target_std", 1.0))
        return cls(mean, std, bool(state["standardize"]), *target)


def _spread(X: Tensor) -> Tensor:
    """Per-column population standard deviation (rows, cols) -> (cols,); 1 where a column is
    constant or there is a single row, so dividing by it is safe."""
    std = X.std(dim=0, unbiased=False) if len(X) > 1 else torch.ones(X.shape[1], dtype=X.dtype)
    return torch.where(std > 1e-12, std, torch.ones_like(std))
