"""Lesson 2.7: recap: a network against linear regression on the same data, with the same loop
and the same loss; then module 2's own functions trained end to end."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.data.split import Split
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.lessons.lesson_2_2 import cross_entropy, linear_backward, two_layer_forward
from looplab.lessons.lesson_2_3 import relu_backward
from looplab.lessons.lesson_2_5 import batches_in_order
from looplab.lessons.lesson_2_6 import sgd_step_with_decay
from looplab.manual.linear import least_squares
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.style import DPI, PALETTE, save
from looplab.run.fit import fit

# ---------------------------------------------------------------- demos


def network_vs_linear_regression(fast: bool = False, out: Path = Path("lessons/2.7")) -> DemoResult:
    """Linear regression (a network with no hidden layer: one ``fc1``) and a 1-32-32-1 ReLU
    network, trained by the same ``fit`` with the same MSE, Adam lr 0.01, batch 32, on a line
    (y = 3x + 1 + noise) and on a sine curve; least squares gives the best any line can do.
    Then both are asked about x beyond the training range."""
    panels = {
        "linear": (3.0 * torch.linspace(1, 2, 50) + 1.0, torch.linspace(1, 2, 50)),
        "sine": (None, torch.linspace(2 * math.pi, 3 * math.pi, 50)),
    }
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), dpi=DPI, layout="constrained")
    result = DemoResult()
    for ax, (dataset, (truth, beyond)) in zip(axes, panels.items(), strict=True):
        config = Config(
            dataset=dataset,
            standardize_target=False,  # the loss in y's own units, as in lesson 1.2
            optimizer="adam",
            lr=0.01,
            epochs=100 if fast else 200,
            device="cpu",
        )
        data = load_prepared(config)  # standardized x; preprocessor maps raw x the same way
        assert isinstance(data.train, Split) and data.preprocessor is not None
        w, b = least_squares(data.train.X, data.train.y)  # the best line, in closed form
        floor = float(((data.train.X.double() @ w + b - data.train.y.double()) ** 2).mean())
        far = beyond.unsqueeze(1)  # (50, 1) raw x outside the training range
        target = truth if truth is not None else torch.sin(beyond)
        raw_x = data.train.X * data.preprocessor.std + data.preprocessor.mean  # (N, 1)
        ax.plot(raw_x[:, 0], data.train.y, ".", color=PALETTE[5], ms=3, label="training data")
        grid = torch.cat([torch.linspace(float(raw_x.min()), float(raw_x.max()), 200), beyond])
        for hidden, colour in (((), PALETTE[0]), ((32, 32), PALETTE[3])):
            name = "linear regression" if not hidden else "MLP 32-32"
            model = build_model(ModelSpec(1, 1, hidden), seed=0)
            kind = "mlp" if hidden else "linear"
            history = fit(model, data, config.replace(model=kind, hidden=[32, 32]))
            with torch.no_grad():
                curve = model(data.preprocessor.transform(grid.unsqueeze(1)))[:, 0]
                outside = model(data.preprocessor.transform(far))[:, 0]
            params = sum(p.numel() for p in model.parameters())
            ax.plot(grid, curve, color=colour, lw=2, label=f"{name} ({params} parameters)")
            result.add(
                f"{dataset}: training loss, {name}",
                history.last["train_loss"],
                f"the best line (least squares) has {floor:.4g}; validation loss "
                f"{history.last['val_loss']:.4g}",
            )
            result.add(
                f"{dataset}: MSE beyond the data, {name}",
                float(((outside - target) ** 2).mean()),
                f"against the true curve at x in [{float(beyond[0]):.3g}, "
                f"{float(beyond[-1]):.3g}], where no training point is",
            )
        ax.axvspan(float(beyond[0]), float(beyond[-1]), color=PALETTE[7], alpha=0.08,
                   label="beyond the training data")  # fmt: skip
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(f"{dataset}: the same loop, loss and optimizer for both models")
        ax.legend(fontsize=8)
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "network_vs_line.png"))
    result.figures.append(out / "network_vs_line.png")
    return result


def module_2_end_to_end(fast: bool = False, out: Path = Path("lessons/2.7")) -> DemoResult:
    """A 2-16-2 ReLU classifier on moons trained with module 2's own functions (the
    exercises' solutions): batches with drop_last (2.5.2), the forward pass (2.2.3),
    stable cross-entropy (2.2.1), the linear and ReLU backward passes (2.2.2, 2.3.1) and SGD
    with weight decay (2.6.2). Beside it, autograd and torch.optim.SGD train the same network
    on the same batches."""
    config = Config(dataset="moons", n=400, device="cpu")
    data = load_prepared(config)
    assert isinstance(data.train, Split) and isinstance(data.val, Split)
    X, y = data.train.X, data.train.y.long()  # (320, 2), (320,) class 0 or 1
    lr, decay, epochs = 0.1, 1e-3, 10 if fast else 40

    start = build_model(ModelSpec(2, 2, (16,)), seed=0)  # two logits: one per class
    W1, b1, W2, b2 = (p.detach().clone() for p in start.parameters())
    twin = build_model(ModelSpec(2, 2, (16,)), seed=0)
    optimizer = torch.optim.SGD(twin.parameters(), lr=lr, weight_decay=decay)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for xb, yb in batches_in_order(X, y, order, 32, drop_last=True):  # 2.5.2
            h, logits = two_layer_forward(xb, W1, b1, W2, b2)  # 2.2.3: (B, 16), (B, 2)
            losses.append(float(cross_entropy(logits, yb)))  # 2.2.1
            grad_logits = (torch.softmax(logits, 1) - F.one_hot(yb, 2)) / len(yb)  # (B, 2)
            dh, dW2, db2 = linear_backward(h, W2, grad_logits)  # 2.2.2
            dpre = relu_backward(h, dh)  # 2.3.1: h > 0 exactly where its input was
            _, dW1, db1 = linear_backward(xb, W1, dpre)
            W1, b1, W2, b2 = (
                sgd_step_with_decay(p, g, lr, decay)  # 2.6.2
                for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2))
            )
            optimizer.zero_grad()  # the twin: autograd and torch.optim on the same batch
            F.cross_entropy(twin(xb), yb).backward()
            optimizer.step()

    gap = max(
        float((mine - theirs.detach()).abs().max())
        for mine, theirs in zip((W1, b1, W2, b2), twin.parameters(), strict=True)
    )
    Xv, yv = data.val.X, data.val.y.long()
    _, val_logits = two_layer_forward(Xv, W1, b1, W2, b2)
    with torch.no_grad():
        twin_accuracy = float((twin(Xv).argmax(1) == yv).float().mean())

    result = DemoResult()
    result.add(
        "max |hand weights - torch weights|",
        gap,
        f"after {len(losses)} steps of both: module 2's functions are autograd + torch.optim",
    )
    result.add("first batch loss", losses[0], "the random start; ln 2 = 0.693 is a coin toss")
    result.add("last batch loss", losses[-1], f"after {epochs} epochs of 32-row batches")
    result.add(
        "validation accuracy",
        float((val_logits.argmax(1) == yv).float().mean()),
        f"on {len(yv)} held-out moons; the torch twin's is {twin_accuracy:.3g}",
    )
    return result


# ---------------------------------------------------------------- exercise 2.7.1


def mlp_forward(x: Tensor, layers: list[tuple[Tensor, Tensor]]) -> Tensor:
    """The forward pass of an MLP of any depth: ReLU between the layers, none after the last.

    x is (batch, in); layers is a list of (W, b) in nn.Linear's layout, W (out, in) and b
    (out,), each layer's in being the previous one's out. With a single layer this is linear
    regression: x @ W.T + b. Return the last layer's output (batch, out).

    >>> x = torch.tensor([[1.0, -1.0]])
    >>> mlp_forward(x, [(torch.eye(2), torch.zeros(2)), (torch.ones(1, 2), torch.zeros(1))])
    tensor([[1.]])
    >>> mlp_forward(x, [(torch.ones(1, 2), torch.tensor([0.5]))])
    tensor([[0.5000]])
    """
    for i, (W, b) in enumerate(layers):
        x = x @ W.T + b  # (batch, out of this layer)
        if i < len(layers) - 1:
            x = torch.relu(x)
    return x


def _depth_cases() -> list[Case]:
    def make(widths: tuple[int, ...], batch: int, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            layers = [
                (torch.randn(out, fan_in, generator=g), torch.randn(out, generator=g))
                for fan_in, out in itertools.pairwise(widths)
            ]
            return torch.randn(batch, widths[0], generator=g), layers

        shape = " -> ".join(map(str, widths))
        return Case(f"{shape}, batch {batch}", args)

    return [
        make((3, 1), 5, 0),  # linear regression
        make((2, 8, 1), 4, 1),
        make((5, 10, 6, 3), 4, 2),  # the course's 5-10-6-3
        make((4, 4, 4, 4, 4), 2, 3),
    ]


def _looplab_mlp(x: Tensor, layers: list[tuple[Tensor, Tensor]], last: str = "none") -> Outputs:
    """looplab's MLP of the same widths with these weights loaded (``last="relu"`` puts a ReLU
    after the last layer too: a known mistake)."""
    widths = [layers[0][0].shape[1], *(W.shape[0] for W, _ in layers)]
    model = build_model(ModelSpec(widths[0], widths[-1], tuple(widths[1:-1])))
    with torch.no_grad():
        for i, (W, b) in enumerate(layers, start=1):
            model.linear(i).weight.copy_(W)
            model.linear(i).bias.copy_(b)
        out = model(x)
    return {"result": torch.relu(out) if last == "relu" else out}


def _no_relu(x: Tensor, layers: list[tuple[Tensor, Tensor]]) -> Outputs:
    for W, b in layers:
        x = F.linear(x, W, b)
    return {"result": x}


MLP_FORWARD = Exercise(
    id="2.7.1",
    title="an MLP of any depth (no hidden layer: linear regression)",
    solution=mlp_forward,
    cases=_depth_cases,
    oracle=_looplab_mlp,
    oracle_name="looplab.models.MLP (nn.Linear and nn.ReLU) with these weights",
    hints=(
        "loop over the layers: a linear map each time, a ReLU after every layer but the last",
        "for i, (W, b) in enumerate(layers): x = x @ W.T + b, then x = relu(x) if i < "
        "len(layers) - 1",
    ),
    mistakes=(
        Mistake(
            "ReLU after the last layer",
            "no ReLU after the last layer: the output is raw (regression values or logits), "
            "and with one layer it must be plain linear regression",
            lambda x, layers: _looplab_mlp(x, layers, last="relu"),
        ),
        Mistake(
            "no ReLU at all",
            "put a ReLU between the layers: without it the stack is one linear map",
            _no_relu,
        ),
        Mistake(
            "no transpose",
            "W is (out, in): a batch of rows (batch, in) multiplies W.T",
            error=r"cannot be multiplied",
        ),
    ),
)

LESSON = Lesson(
    id="2.7",
    title="Recap: networks",
    minutes=25,
    eli5=(
        "Linear regression is a network with no hidden layer: one linear layer, the squared "
        "error, and the same training loop. Add hidden layers with a bend between them and "
        "the same loop can fit curves a line never could. On data that really is a line, the "
        "network only matches the line's loss, with many more weights, and it guesses worse "
        "beyond the data it saw. Every piece of module 2 (the forward pass, the loss from "
        "logits, the backward passes, batches, regularization) fits in one loop that gives "
        "autograd's own numbers."
    ),
    equations=(
        r"\text{linear regression: } \hat y = W x + b \qquad "
        r"\text{network: } \hat y = W_3\, \mathrm{relu}(W_2\, \mathrm{relu}(W_1 x + b_1) + b_2) "
        r"+ b_3",
        r"L = \frac{1}{N} \sum_i (\hat y_i - y_i)^2 \ \text{ for both}, \qquad "
        r"\min_{W, b} L_{\text{line}} = \text{least squares (closed form)}",
        r"\theta \leftarrow \theta - \eta\, (\nabla_\theta L + \lambda \theta) "
        r"\quad \text{(the same step for every parameter)}",
    ),
    look_at=(
        "network_vs_line.png, left: on a line both models reach about the least-squares loss; "
        "beyond the data the line stays right and the network's error there is several times "
        "larger",
        "network_vs_line.png, right: on the sine curve linear regression is stuck at the "
        "best line's loss and the network follows the curve; neither knows the curve past "
        "the data",
        "the end-to-end loop's weights equal torch's to float32 rounding after every step",
    ),
    demos=(
        Demo(
            "the network vs linear regression",
            network_vs_linear_regression,
            ("network_vs_line.png",),
        ),
        Demo("module 2 end to end, checked by torch", module_2_end_to_end),
    ),
    exercises=(MLP_FORWARD,),
)
