r"""A linear model's weights and bias, as it uses them and in the data's own units.

The model sees standardized inputs $z_j = (x_j - \mu_j) / \sigma_j$ and, for regression, learns a
standardized target $z_y = (y - \mu_y) / \sigma_y$, so its $w$ is not the slope of the data (on
``linear``, $y = 3x + 1$, it learns $w \approx 1.7$). Undoing both standardizations gives

$$y = \mu_y + \sigma_y \Big(b + \sum_j w_j \frac{x_j - \mu_j}{\sigma_j}\Big)
   \quad\Rightarrow\quad w^{raw}_j = \frac{\sigma_y w_j}{\sigma_j},\qquad
   b^{raw} = \mu_y + \sigma_y \Big(b - \sum_j \frac{w_j \mu_j}{\sigma_j}\Big).$$

For classification the same holds with $\mu_y = 0, \sigma_y = 1$: the coefficients of the logit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from looplab.data.preprocess import Preprocessor


@dataclass(frozen=True)
class LinearCoefficients:
    """Weights (outputs, features) and biases (outputs,), as learned and in the data's units."""

    feature_names: list[str]
    output_names: list[str]  # what each output is: the target, a class's logit...
    weight: Tensor  # (outputs, features): on standardized inputs (and target)
    bias: Tensor  # (outputs,)
    raw_weight: Tensor  # (outputs, features): on the data's own units
    raw_bias: Tensor  # (outputs,)

    def entries(self) -> list[tuple[str, str, float, float]]:
        """One (output, term, as learned, in the data's units) per weight, each output's bias
        after its weights."""
        out = []
        for k, name in enumerate(self.output_names):
            for j, feature in enumerate(self.feature_names):
                w, raw = float(self.weight[k, j]), float(self.raw_weight[k, j])
                out.append((name, f"w {feature}", w, raw))
            out.append((name, "bias", float(self.bias[k]), float(self.raw_bias[k])))
        return out


def linear_coefficients(
    model: nn.Module,
    pre: Preprocessor | None,
    feature_names: list[str],
    output_names: list[str],
) -> LinearCoefficients | None:
    """The coefficients of a model that is one linear layer; None for any other model."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    parametrized = [
        m for m in model.modules() if next(m.parameters(recurse=False), None) is not None
    ]
    if len(layers) != 1 or parametrized != layers or layers[0].bias is None:
        return None
    W = layers[0].weight.detach().cpu().double()  # (outputs, features)
    b = layers[0].bias.detach().cpu().double()  # (outputs,)
    mu = torch.zeros(W.shape[1], dtype=torch.float64)  # (features,)
    sd = torch.ones_like(mu)
    mu_y, sd_y = 0.0, 1.0
    if pre is not None:
        if pre.standardize:  # without it, the mean only fills missing values
            mu, sd = pre.mean.double(), pre.std.double()
        mu_y, sd_y = pre.target_mean, pre.target_std
    raw_weight = sd_y * W / sd  # (outputs, features)
    raw_bias = mu_y + sd_y * (b - W @ (mu / sd))  # (outputs,)
    return LinearCoefficients(feature_names, output_names, W, b, raw_weight, raw_bias)


def output_names(task: str, class_names: list[str], target: str = "y") -> list[str]:
    """What each output of a model is: the target (regression), the logit of the second class
    (binary), or one logit per class (multiclass)."""
    if task == "regression":
        return [target]
    if task == "binary":
        return [f"logit: {class_names[1]}"]
    return [f"logit: {name}" for name in class_names]
