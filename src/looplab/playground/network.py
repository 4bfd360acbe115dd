r"""The playground's network: looplab's :class:`~looplab.models.mlp.MLP` from the settings,
initialized as the exported script initializes it, and the loss with its explicit penalty.

Reproducible beside other runs: the server trains several sessions at once in threads, and
``nn.Dropout`` draws from torch's one global generator, which they would share. So each
dropout layer is swapped for :class:`SeededDropout`, which draws the same masks from a
generator of its own, started where the global generator stands after the model is built, as
in a script that calls ``torch.manual_seed(seed)``, builds the model and trains it.

The penalty (TensorFlow Playground's regularization) is a term of the loss, on the weights of
the linear layers (not biases, not norm layers):
L1: $\lambda \sum |w|$, L2: $\frac{\lambda}{2} \sum w^2$ (whose gradient, $\lambda w$, is the
weight decay of plain SGD).
"""

from __future__ import annotations

import threading

import torch
from torch import Tensor, nn

from looplab.models.init import init_model
from looplab.models.losses import TaskLoss
from looplab.models.mlp import MLP, ModelSpec
from looplab.playground.settings import Settings

# Building a model seeds torch's global generator for a moment: one build at a time.
_BUILD_LOCK = threading.Lock()


class SeededDropout(nn.Module):
    """``nn.Dropout(p)`` drawing its masks from ``generator``: the same masks, the same
    outputs and gradients, as ``nn.Dropout`` on a global generator in the same state."""

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p = p
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep.div_(1 - self.p)  # as torch's CPU dropout: x * mask / (1 - p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def model_spec(settings: Settings, outputs: int) -> ModelSpec:
    return ModelSpec(
        in_features=len(settings.features),
        out_features=outputs,
        hidden=tuple(settings.hidden),
        activation=settings.activation,
        dropout=settings.dropout,
        norm=settings.norm,
        residual=settings.residual,
    )


def build_network(settings: Settings, outputs: int) -> MLP:
    """The MLP of ``settings``: built right after ``torch.manual_seed(seed)`` (PyTorch's default
    initialization), re-initialized by ``settings.init`` from a generator seeded alike, its
    dropout layers drawing from where the global generator then stands."""
    spec = model_spec(settings, outputs)
    with _BUILD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        model = MLP(spec)
        after_build = torch.get_rng_state()
    init_model(model, settings.init, settings.init_scale, seed=settings.seed)
    if settings.dropout > 0:
        generator = torch.Generator()
        generator.set_state(after_build)
        for names in model.blocks:
            for name in names:
                if name.startswith("drop"):
                    setattr(model, name, SeededDropout(settings.dropout, generator))
    return model


def penalty(model: nn.Module, kind: str, rate: float) -> Tensor:
    r"""The regularization term: $\lambda \sum|w|$ (L1) or $\frac{\lambda}{2}\sum w^2$ (L2) over
    the weights of every linear layer, in the model's order."""
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    if kind == "L1":
        return rate * torch.stack([w.abs().sum() for w in weights]).sum()
    if kind == "L2":
        return rate / 2 * torch.stack([(w * w).sum() for w in weights]).sum()
    return torch.zeros(())


class PenalizedLoss(nn.Module):
    """The task's loss (MSE, BCE-with-logits or cross-entropy: looplab's ``TaskLoss``) plus the
    penalty on ``model``'s weights; with no regularization, the task's loss alone."""

    def __init__(self, task: str, model: nn.Module, kind: str, rate: float) -> None:
        super().__init__()
        self.data_loss = TaskLoss(task)
        self.model = [model]  # a list: not a submodule of the loss
        self.kind = kind if rate > 0 else "none"
        self.rate = rate

    def forward(self, logits: Tensor, y: Tensor) -> Tensor:
        loss: Tensor = self.data_loss(logits, y)
        if self.kind == "none":
            return loss
        return loss + penalty(self.model[0], self.kind, self.rate)


def block_outputs(model: MLP, x: Tensor) -> list[Tensor]:
    """What every layer of ``model`` outputs for ``x`` (batch, in): each hidden block after its
    activation (dropout, skip), then the logits; walks the blocks as ``MLP.forward`` does."""
    outputs = []
    for i, names in enumerate(model.blocks):
        h = x  # (batch, width of this block's input)
        for name in names:
            h = model.get_submodule(name)(h)
        x = x + h if i in model.skips else h
        outputs.append(x)  # (batch, width of this block)
    return outputs
