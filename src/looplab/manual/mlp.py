"""A multi-layer perceptron with a hand-written backward, on numpy arrays.

``ManualMLP`` is ``looplab.models.MLP`` written by hand: the same layers (``fc1, act1, ...,
fcN``), the same parameter names and layouts, any depth. ``forward`` runs the layers in order
and ``backward`` runs their backwards in reverse (the chain rule), leaving each parameter's
gradient in :meth:`gradients`. Built :meth:`from_module`, its weights are numpy *views* of the
module's parameters (shared memory), so an optimizer stepping the module moves them too.
"""

from __future__ import annotations

from looplab.errors import ConfigError
from looplab.manual.layers import ACTIVATIONS, Array, Layer, Linear
from looplab.models.mlp import MLP, ModelSpec


class ManualMLP:
    """``fc1 -> act1 -> fc2 -> ... -> fcN`` from weight arrays (out, in) and bias arrays (out,)."""

    def __init__(
        self,
        spec: ModelSpec,
        weights: list[tuple[Array, Array]],
        grads_into: list[tuple[Array, Array]] | None = None,
    ) -> None:
        check_supported(spec)
        if len(weights) != len(spec.hidden) + 1:
            need = len(spec.hidden) + 1
            raise ValueError(f"{need} (weight, bias) pairs needed, got {len(weights)}")
        self.spec = spec
        # where each layer's backward writes its gradients (None: new arrays)
        into: list[tuple[Array, Array] | None] = (
            [*grads_into] if grads_into else [None] * len(weights)
        )
        self.linears = [
            Linear(w, b, input_grad=i > 0, grads_into=g)
            for i, ((w, b), g) in enumerate(zip(weights, into, strict=True))
        ]
        self.layers: list[Layer] = []
        for i, linear in enumerate(self.linears):
            self.layers.append(linear)
            if i < len(self.linears) - 1:
                self.layers.append(ACTIVATIONS[spec.activation]())

    @classmethod
    def from_module(
        cls, model: MLP, grads_into: list[tuple[Array, Array]] | None = None
    ) -> ManualMLP:
        """Numpy views of ``model``'s weights (CPU tensors share their memory with the views);
        ``grads_into`` gives each layer (weight, bias) arrays to write its gradients into."""
        weights = []
        for i in range(1, len(model.spec.hidden) + 2):
            fc = model.linear(i)
            assert fc.bias is not None
            weights.append((fc.weight.detach().numpy(), fc.bias.detach().numpy()))
        return cls(model.spec, weights, grads_into)

    def forward(self, x: Array) -> Array:
        """(batch, in_features) -> (batch, out_features) logits; remembers what backward needs."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, grad: Array) -> None:
        """From dL/dlogits (batch, out_features), fill every layer's parameter gradients."""
        for layer in reversed(self.layers):
            grad = layer.backward(grad)

    def parameters(self) -> list[Array]:
        """In ``nn.Module.parameters()`` order: fc1.weight, fc1.bias, fc2.weight, ..."""
        return [a for fc in self.linears for a in (fc.weight, fc.bias)]

    def gradients(self) -> list[Array]:
        """The gradients of the last backward, in :meth:`parameters` order."""
        grads: list[Array] = []
        for fc in self.linears:
            assert fc.grad_weight is not None and fc.grad_bias is not None, "no backward yet"
            grads += [fc.grad_weight, fc.grad_bias]
        return grads

    def parameter_names(self) -> list[str]:
        count = len(self.linears)
        return [f"fc{i}.{kind}" for i in range(1, count + 1) for kind in ("weight", "bias")]


def check_supported(spec: ModelSpec) -> None:
    """Raise a ConfigError for the parts of an MLP the manual engine does not write by hand."""
    if spec.activation not in ACTIVATIONS:
        choices = ", ".join(ACTIVATIONS)
        raise ConfigError(
            f"the manual engine has no {spec.activation!r} activation; use one of {choices}, "
            "or --engine autograd"
        )
    if spec.dropout > 0:
        raise ConfigError("the manual engine has no dropout; use --dropout 0 or --engine autograd")
    if spec.norm != "none":
        raise ConfigError(
            f"the manual engine has no {spec.norm} normalization; "
            "use --norm none or --engine autograd"
        )
    if spec.residual:
        raise ConfigError(
            "the manual engine has no residual connections; "
            "drop --residual or use --engine autograd"
        )
