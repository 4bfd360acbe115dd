r"""Feature preprocessing fitted on the training split only: mean imputation and standardization.

Standardization maps each feature to $z = (x - \mu) / \sigma$ with $\mu, \sigma$ of the training
rows, so no information from validation or test rows leaks into training. The fitted numbers are
saved with the run so predictions on new rows are transformed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Preprocessor:
    """Fill missing values with the training mean, then (optionally) standardize."""

    mean: Tensor  # (features,)
    std: Tensor  # (features,); 1 where a feature is constant, or where standardize is off
    standardize: bool = True

    @classmethod
    def fit(cls, X_train: Tensor, standardize: bool = True) -> Preprocessor:
        """Learn the per-feature mean and standard deviation, ignoring missing (NaN) values."""
        mean = torch.nanmean(X_train, dim=0)
        mean = torch.where(torch.isnan(mean), torch.zeros_like(mean), mean)
        filled = torch.where(torch.isnan(X_train), mean, X_train)
        std = filled.std(dim=0, unbiased=False) if len(filled) > 1 else torch.ones_like(mean)
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        if not standardize:
            std = torch.ones_like(std)
        return cls(mean, std, standardize)

    def transform(self, X: Tensor) -> Tensor:
        """Impute then scale: returns a new (rows, features) tensor."""
        X = torch.where(torch.isnan(X), self.mean, X)
        return (X - self.mean) / self.std if self.standardize else X

    def state_dict(self) -> dict[str, Tensor | bool]:
        return {"mean": self.mean, "std": self.std, "standardize": self.standardize}

    @classmethod
    def from_state_dict(cls, state: dict[str, Tensor | bool]) -> Preprocessor:
        mean, std = state["mean"], state["std"]
        assert isinstance(mean, Tensor) and isinstance(std, Tensor)
        return cls(mean, std, bool(state["standardize"]))
