"""Lesson 2.2: forward and backward passes: every shape of a 5-10-6-3 network, and
cross-entropy from logits by hand."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from looplab.inspect.summary import HEADER, format_shape, summarize, table_rows
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.manual.losses import CrossEntropyWithLogits
from looplab.manual.mlp import ManualMLP
from looplab.models.mlp import ModelSpec, build_model
from looplab.plots.style import DPI, PALETTE, new_figure, save

# The course's worked example (logits, true class 0), computed for "what to look at".
TRUE_SOFTMAX = torch.softmax(torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64), 0).tolist()

# ---------------------------------------------------------------- demos


def shapes_forward_and_backward(fast: bool = False, out: Path = Path("lessons/2.2")) -> DemoResult:
    """The course's network 5 -> 10 -> 6 -> 3 on a batch of 4: the shape of every activation
    and of its gradient (drawn as heat maps), the parameter count, and the hand-written
    backward of ``looplab.manual`` against autograd."""
    spec = ModelSpec(in_features=5, out_features=3, hidden=(10, 6))  # hidden_dim: 10, then 6
    model = build_model(spec, seed=0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 5, generator=g)  # (batch, in): the batch is the first dimension
    y = torch.randint(0, 3, (4,), generator=g)  # (batch,) class indices

    h1 = torch.relu(model.linear(1)(x))  # (4, 10): 10 neurons, one row per example
    h2 = torch.relu(model.linear(2)(h1))  # (4, 6)
    logits = model.linear(3)(h2)  # (4, 3): raw scores, no softmax
    for h in (h1, h2, logits):
        h.retain_grad()  # keep dL/dh of these intermediate tensors
    loss = F.cross_entropy(logits, y)  # the mean over the batch
    loss.backward()

    with torch.no_grad():
        one_at_a_time = torch.cat([model(x[i : i + 1]) for i in range(4)])  # 4 forwards, (1, 5)
        batch_gap = float((model(x) - one_at_a_time).abs().max())
    net = ManualMLP.from_module(model)  # numpy, the same weights; backward written by hand
    ce = CrossEntropyWithLogits()
    ce.forward(net.forward(x.numpy()), y.numpy())
    net.backward(ce.backward())
    gaps = [
        float(np.abs(grad - p.grad.numpy()).max())  # type: ignore[union-attr]
        for grad, p in zip(net.gradients(), model.parameters(), strict=True)
    ]

    tensors = {"x": x, "h1": h1, "h2": h2, "logits": logits}
    fig, axes = plt.subplots(2, 4, figsize=(12, 4.6), dpi=DPI, layout="constrained")
    for col, (name, t) in enumerate(tensors.items()):
        for row, (what, values) in enumerate((("", t), ("dL/d", t.grad))):
            ax = axes[row, col]
            if values is None:  # x is data: no gradient is kept for it
                ax.axis("off")
                ax.text(0.5, 0.5, "x is data:\nno gradient", ha="center", va="center")
                continue
            v = values.detach()
            ax.imshow(
                v.numpy(), cmap="RdBu_r", vmin=-v.abs().max(), vmax=v.abs().max(), aspect="auto"
            )
            ax.set_title(f"{what}{name} {format_shape(tuple(v.shape))}", fontsize=9)
            ax.set_xlabel("neuron (feature)" if row == 0 else "")
            ax.set_ylabel("example" if col == 0 else "")
            ax.set_xticks([])
            ax.set_yticks(range(4))
    fig.suptitle("5 -> 10 -> 6 -> 3 on a batch of 4: forward (top) and gradients (bottom)")
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "forward_backward.png"))

    table = summarize(model, 5, batch_size=4)
    by_formula = sum(fan_in * fan_out + fan_out for fan_in, fan_out in ((5, 10), (10, 6), (6, 3)))
    result = DemoResult(figures=[out / "forward_backward.png"])
    result.add(
        "parameters",
        table.total_params,
        f"counted on the model; (5*10 + 10) + (10*6 + 6) + (6*3 + 3) = {by_formula}",
    )
    result.add(
        "max |batch forward - 4 single forwards|",
        batch_gap,
        "the same weights serve every row: the batch only stacks examples",
    )
    result.add(
        "max |hand-written backward - autograd|",
        max(gaps),
        f"over all {len(gaps)} weight and bias gradients, each shaped like its parameter",
    )
    result.add("loss", loss.item(), "cross-entropy of the 4 examples' logits, averaged")
    return result


def cross_entropy_by_hand(fast: bool = False, out: Path = Path("lessons/2.2")) -> DemoResult:
    """The course's worked example, logits [2.0, -1.0, 0.5] with true class 0: softmax and
    cross-entropy by hand, then by PyTorch. The course's numbers (softmax 0.71 / 0.04 / 0.25,
    loss 0.34) are wrong; these are the right ones."""
    z = (2.0, -1.0, 0.5)  # the course's logits; the true class is 0
    course_softmax, course_loss = (0.71, 0.04, 0.25), 0.34  # what the course says (wrong)
    exps = [math.exp(v) for v in z]  # e^2, e^-1, e^0.5
    p = [e / sum(exps) for e in exps]  # softmax: each exponential over their sum
    loss = -math.log(p[0])  # cross-entropy: -log of the true class's probability

    logits = torch.tensor([z], dtype=torch.float64, requires_grad=True)  # (1, 3): a batch of 1
    target = torch.tensor([0])
    by_torch = F.cross_entropy(logits, target)  # takes raw logits
    (grad,) = torch.autograd.grad(by_torch, logits)
    onehot = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    near = torch.softmax(torch.tensor([2.0, -1.0, 1.0], dtype=torch.float64), 0)

    result = DemoResult()
    for k in range(3):
        result.add(
            f"softmax p{k}",
            p[k],
            f"e^{z[k]:g} / (e^2 + e^-1 + e^0.5); the course says {course_softmax[k]:g}",
        )
    result.add("loss", loss, f"-log p0; the course says {course_loss:g}")
    result.add(
        "|loss - F.cross_entropy|",
        abs(loss - by_torch.item()),
        "PyTorch agrees with the hand computation to float64 rounding",
    )
    result.add(
        "max |dL/dz - (softmax - onehot)|",
        float((grad - (torch.tensor([p], dtype=torch.float64) - onehot)).abs().max()),
        "the gradient of cross-entropy from logits is p - onehot(y): autograd agrees",
    )
    result.add(
        "softmax p0 of [2, -1, 1]",
        float(near[0]),
        f"the course's numbers are close to the logits [2, -1, 1]: softmax "
        f"{float(near[0]):.3f} / {float(near[1]):.3f} / {float(near[2]):.3f}, loss "
        f"{-math.log(float(near[0])):.3f} (a slip of the third logit, 0.5 -> 1?)",
    )
    return result


def log_sum_exp(fast: bool = False, out: Path = Path("lessons/2.2")) -> DemoResult:
    """Why ``CrossEntropyLoss`` takes raw logits: for logits [0, gap] and true class 0 in
    float32, exp overflows past a gap of about 88 and softmax-then-log underflows to log(0) =
    -inf past about 104, while ``F.cross_entropy`` (log-sum-exp, shifted by the largest logit)
    stays finite and exact: the loss is log(1 + e^gap)."""
    gaps = torch.arange(0.0, 200.01, 0.05 if fast else 0.01)  # (G,)
    logits = torch.stack([torch.zeros_like(gaps), gaps], 1)  # (G, 2) float32
    target = torch.zeros(len(gaps), dtype=torch.long)  # class 0: the smaller logit

    naive = -torch.log(logits.exp()[:, 0] / logits.exp().sum(1))  # exp first: overflows
    softmax_then_log = -torch.log(torch.softmax(logits, 1)[:, 0])  # p0 underflows to 0
    fused = F.cross_entropy(logits, target, reduction="none")  # log-sum-exp
    exact = torch.logaddexp(torch.zeros_like(gaps, dtype=torch.float64), gaps.double())

    fig, ax = new_figure()
    for values, label, colour, style in (
        (fused, "F.cross_entropy(logits, y)", PALETTE[0], "-"),
        (softmax_then_log, "-log(softmax(logits))[y]", PALETTE[1], "--"),
        (naive, "-log(exp(z_y) / sum exp(z))", PALETTE[3], ":"),
    ):
        ok = torch.isfinite(values)
        ax.plot(gaps[ok], values[ok], style, color=colour, lw=2, label=label)
        if not bool(ok.all()):
            last = int(ok.nonzero().max())
            ax.plot(gaps[last], values[last], "x", color=colour, ms=10)
    ax.set_xlabel("gap between the logits, z1 - z0 (true class 0)")
    ax.set_ylabel("loss (float32; x: last finite value)")
    ax.set_title("cross-entropy of logits [0, gap] three ways")
    ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "log_sum_exp.png"))

    def last_finite(values: Tensor) -> float:
        return float(gaps[torch.isfinite(values)].max())

    result = DemoResult(figures=[out / "log_sum_exp.png"])
    result.add(
        "last finite gap, exp then divide",
        last_finite(naive),
        f"e^gap overflows float32 past ln({torch.finfo(torch.float32).max:.3g}) = "
        f"{math.log(torch.finfo(torch.float32).max):.4g}: inf / inf is nan",
    )
    result.add(
        "last finite gap, softmax then log",
        last_finite(softmax_then_log),
        "p0 = 1 / (1 + e^gap) underflows to 0 and log(0) = -inf: the loss is inf",
    )
    result.add(
        "F.cross_entropy at gap 200",
        float(fused[-1]),
        "finite: log-sum-exp shifts by the largest logit, so nothing overflows or underflows",
    )
    result.add(
        "max |F.cross_entropy - log(1 + e^gap)|",
        float((fused.double() - exact).abs().max()),
        "exact to float32 rounding at every gap, up to 200",
    )
    return result


def shape_tables() -> str:
    """The layer table of ``looplab summary --in 5 --hidden 10,6 --out 3 --batch-size 4`` and
    the shape of every gradient, as markdown (measured on the model, not typed in)."""
    model = build_model(ModelSpec(5, 3, (10, 6)), seed=0)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(summarize(model, 5, 4))]
    x = torch.zeros(4, 5)
    F.cross_entropy(model(x), torch.zeros(4, dtype=torch.long)).backward()
    grads = ["| parameter | shape | gradient shape |", "|---|---|---|"]
    for name, p in model.named_parameters():
        assert p.grad is not None
        grads.append(
            f"| {name} | {format_shape(tuple(p.shape))} | {format_shape(tuple(p.grad.shape))} |"
        )
    return (
        "The layer table, from `uv run looplab summary --in 5 --hidden 10,6 --out 3 "
        "--batch-size 4` (measured by hooks on a forward pass):\n\n"
        + "\n".join(lines)
        + "\n\nA *neuron* is one column of a layer's output; a *layer* computes all of them at "
        "once, for every row of the batch. `hidden_dim` is the number of neurons in a hidden "
        "layer (10, then 6 here); it sets the weight's shape (out, in), never the batch. "
        "Every gradient has the shape of what it differentiates:\n\n" + "\n".join(grads)
    )


# ---------------------------------------------------------------- exercise 2.2.1


def cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Softmax cross-entropy from raw logits, averaged over the batch, written stably.

    logits is (N, C) (any real values, some very large), targets is (N,) class indices. For
    each row, loss_i = log(sum_k exp(z_ik)) - z_i,targets_i; compute the log-sum-exp as
    m_i + log(sum_k exp(z_ik - m_i)) with m_i the row's largest logit, so no exp overflows.
    Return the mean over the rows (a scalar tensor).

    >>> cross_entropy(torch.tensor([[2.0, -1.0, 0.5]]), torch.tensor([0]))
    tensor(0.2413)
    """
    m = logits.max(dim=1, keepdim=True).values  # (N, 1): each row's largest logit
    lse = m[:, 0] + torch.log(torch.exp(logits - m).sum(dim=1))  # (N,) log-sum-exp
    return (lse - logits[torch.arange(len(logits)), targets]).mean()


def _logit_cases() -> list[Case]:
    def make(n: int, c: int, scale: float, seed: int, case: str = "") -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            logits = scale * torch.randn(n, c, generator=g)  # (N, C)
            targets = torch.randint(0, c, (n,), generator=g)  # (N,)
            if case == "large":  # every logit near 100: exp overflows float32
                logits, targets = logits + 100, logits.argmax(1)
            if case == "far":  # the true class 200 below the others: its probability underflows
                logits[torch.arange(n), targets] = -200.0
            return logits, targets

        return Case(f"N={n}, C={c}, logits of size ~{scale:g} {case}".strip(), args)

    return [
        make(4, 3, 1.0, 0),
        make(16, 10, 5.0, 1),
        make(1, 2, 1.0, 2),
        make(8, 5, 1.0, 3, "large"),
        make(6, 4, 2.0, 4, "far"),
    ]


def _naive_cross_entropy(logits: Tensor, targets: Tensor, way: str) -> Outputs:
    """The unstable ways: exp over its sum then log, log of an unshifted sum of exps, or
    torch.softmax (stable itself) followed by a log that underflows."""
    rows = torch.arange(len(logits))
    if way == "divide":
        p = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)  # inf / inf
        losses = -torch.log(p[rows, targets])
    elif way == "unshifted":
        losses = torch.log(torch.exp(logits).sum(dim=1)) - logits[rows, targets]
    else:
        losses = -torch.log(torch.softmax(logits, dim=1)[rows, targets])  # log(0) = -inf
    return {"result": losses.mean()}


OVERFLOW_HINT = (
    "exp of a large logit overflows to inf (float32 past ~88): subtract each row's largest "
    "logit first, log-sum-exp = m + log(sum exp(z - m))"
)


CROSS_ENTROPY = Exercise(
    id="2.2.1",
    title="stable softmax cross-entropy from logits",
    solution=cross_entropy,
    cases=_logit_cases,
    oracle=lambda logits, targets: {"result": F.cross_entropy(logits, targets)},
    oracle_name="torch.nn.functional.cross_entropy",
    hints=(
        "subtract each row's largest logit before exp: exp(z - m) is at most 1, and the "
        "log-sum-exp is m + log(sum exp(z - m))",
        "m = logits.max(dim=1, keepdim=True).values; lse = m[:, 0] + "
        "log(exp(logits - m).sum(1)); pick the true logits with logits[arange(N), targets]",
    ),
    mistakes=(
        Mistake(
            "softmax then log",
            "softmax then log underflows: a probability below ~1e-45 becomes 0 and log(0) = "
            "-inf; compute log p directly as z_y - log-sum-exp(z)",
            lambda z, t: _naive_cross_entropy(z, t, "softmax"),
        ),
        Mistake(
            "no max subtracted",
            OVERFLOW_HINT,
            lambda z, t: _naive_cross_entropy(z, t, "divide"),
        ),
        Mistake(
            "no max subtracted, no division",
            OVERFLOW_HINT,
            lambda z, t: _naive_cross_entropy(z, t, "unshifted"),
        ),
        Mistake(
            "sum instead of mean",
            "average the per-row losses over the batch (.mean()), do not add them up",
            lambda z, t: {"result": F.cross_entropy(z, t, reduction="sum")},
        ),
        Mistake(
            "sign flipped",
            "the loss is log-sum-exp minus the true class's logit (-log p, positive); yours "
            "has the opposite sign",
            lambda z, t: {"result": -F.cross_entropy(z, t)},
        ),
    ),
)

# ---------------------------------------------------------------- exercise 2.2.2


def linear_backward(x: Tensor, W: Tensor, grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The backward pass of a linear layer y = x @ W.T + b (nn.Linear's layout), by hand.

    x is (batch, in), W is (out, in), grad_out = dL/dy is (batch, out). Return
    (dL/dx, dL/dW, dL/db) with the shapes of x, W and b: (batch, in), (out, in), (out,).
    Every row of the batch used the same W and b, so their gradients add up over the rows.

    >>> x = torch.tensor([[1.0, 2.0]]); W = torch.tensor([[3.0, 4.0]])
    >>> linear_backward(x, W, torch.tensor([[1.0]]))
    (tensor([[3., 4.]]), tensor([[1., 2.]]), tensor([1.]))
    """
    return grad_out @ W, grad_out.T @ x, grad_out.sum(dim=0)


def _backward_cases() -> list[Case]:
    def make(batch: int, n_in: int, n_out: int, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            x, W = torch.randn(batch, n_in, generator=g), torch.randn(n_out, n_in, generator=g)
            return x, W, torch.randn(batch, n_out, generator=g)

        return Case(f"batch {batch}, {n_in} -> {n_out}", args)

    return [make(4, 5, 10, 0), make(4, 10, 6, 1), make(1, 3, 3, 2), make(32, 6, 3, 3)]


def _autograd_linear(x: Tensor, W: Tensor, grad_out: Tensor) -> Outputs:
    x, W = x.clone().requires_grad_(), W.clone().requires_grad_()
    b = torch.zeros(W.shape[0], requires_grad=True)
    y = F.linear(x, W, b)  # (batch, out)
    dx, dW, db = torch.autograd.grad(y, [x, W, b], grad_outputs=grad_out)
    return {"dL/dx": dx, "dL/dW": dW, "dL/db": db}


LINEAR_BACKWARD = Exercise(
    id="2.2.2",
    title="the backward pass of a linear layer",
    solution=linear_backward,
    cases=_backward_cases,
    oracle=_autograd_linear,
    oracle_name="autograd through torch.nn.functional.linear, given dL/dy",
    outputs=("dL/dx", "dL/dW", "dL/db"),
    hints=(
        "write the shapes first: dL/dx is (batch, in), dL/dW is (out, in), dL/db is (out,); "
        "only one arrangement of grad_out (batch, out), W and x multiplies into each",
        "dL/dx = grad_out @ W, dL/dW = grad_out.T @ x, dL/db = grad_out.sum(0)",
    ),
    mistakes=(
        Mistake(
            "dW transposed",
            "dL/dW has W's shape (out, in): grad_out.T @ x, not x.T @ grad_out (that is its "
            "transpose)",
            lambda x, W, g: {**_autograd_linear(x, W, g), "dL/dW": x.T @ g},
        ),
        Mistake(
            "db averaged",
            "the bias is added to every row, so its gradient is the sum over the batch "
            "(grad_out.sum(0)), not the mean: the loss already did the averaging",
            lambda x, W, g: {**_autograd_linear(x, W, g), "dL/db": g.mean(0)},
        ),
        Mistake(
            "W transposed in dx",
            "a product whose shapes do not fit: dL/dx = grad_out @ W is (batch, out) @ "
            "(out, in) -> (batch, in), and dL/dW = grad_out.T @ x is (out, batch) @ (batch, in)",
            lambda x, W, g: {**_autograd_linear(x, W, g), "dL/dx": g @ W.T},
            error=r"cannot be multiplied",
        ),
    ),
)

# ---------------------------------------------------------------- exercise 2.2.3


def two_layer_forward(
    x: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor
) -> tuple[Tensor, Tensor]:
    """The forward pass of in -> hidden -> out with a ReLU between, nn.Linear's layout.

    x is (batch, in), W1 (hidden, in), b1 (hidden,), W2 (out, hidden), b2 (out,). Return
    (h, logits): h = relu(x @ W1.T + b1) of shape (batch, hidden) and logits = h @ W2.T + b2
    of shape (batch, out), raw (no activation after the last layer).

    >>> x = torch.tensor([[1.0, -1.0]])
    >>> two_layer_forward(x, torch.eye(2), torch.zeros(2), torch.ones(1, 2), torch.zeros(1))
    (tensor([[1., 0.]]), tensor([[1.]]))
    """
    h = torch.relu(x @ W1.T + b1)  # (batch, hidden)
    return h, h @ W2.T + b2  # (batch, out)


def _forward_cases() -> list[Case]:
    def make(batch: int, d: int, hidden: int, k: int, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            shapes = ((batch, d), (hidden, d), (hidden,), (k, hidden), (k,))
            return tuple(torch.randn(s, generator=g) for s in shapes)

        return Case(f"batch {batch}: {d} -> {hidden} -> {k}", args)

    return [make(4, 5, 10, 3, 0), make(1, 2, 8, 1, 1), make(16, 6, 6, 6, 2), make(3, 4, 7, 2, 3)]


def _nn_forward(x: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Outputs:
    h = F.relu(F.linear(x, W1, b1))
    return {"h": h, "logits": F.linear(h, W2, b2)}


TWO_LAYER_FORWARD = Exercise(
    id="2.2.3",
    title="a two-layer forward pass with its shapes",
    solution=two_layer_forward,
    cases=_forward_cases,
    oracle=_nn_forward,
    oracle_name="torch.nn.functional.linear and relu",
    outputs=("h", "logits"),
    hints=(
        "nn.Linear stores W as (out, in), so a batch of rows (batch, in) multiplies W.T",
        "h = torch.relu(x @ W1.T + b1); logits = h @ W2.T + b2",
    ),
    mistakes=(
        Mistake(
            "no transpose",
            "W1 is (hidden, in): multiply the rows by its transpose, x @ W1.T",
            lambda x, W1, b1, W2, b2: _nn_forward(x, W1.T, b1, W2.T, b2),
            error=r"cannot be multiplied",
        ),
        Mistake(
            "ReLU on the logits",
            "no activation after the last layer: the logits are raw scores (the loss applies "
            "softmax)",
            lambda x, W1, b1, W2, b2: {
                **_nn_forward(x, W1, b1, W2, b2),
                "logits": F.relu(_nn_forward(x, W1, b1, W2, b2)["logits"]),
            },
        ),
        Mistake(
            "no ReLU",
            "apply the ReLU to the hidden layer: without it the two layers are one linear map",
            lambda x, W1, b1, W2, b2: {
                "h": F.linear(x, W1, b1),
                "logits": F.linear(F.linear(x, W1, b1), W2, b2),
            },
        ),
    ),
)

LESSON = Lesson(
    id="2.2",
    title="Forward and backward passes",
    minutes=30,
    eli5=(
        "The forward pass pushes a whole batch of examples through the layers at once: one "
        "row per example, one column per neuron. The backward pass walks the same layers in "
        "reverse, and at each one asks how the loss changes with what came in; every "
        "gradient has exactly the shape of the thing it belongs to. The last layer's outputs "
        "are raw scores (logits): the loss turns them into probabilities itself, because "
        "doing it in two steps breaks for large scores."
    ),
    equations=(
        r"H = \mathrm{relu}(X W_1^\top + b_1), \quad X \in \mathbb{R}^{B \times d}, "
        r"\ W_1 \in \mathbb{R}^{h \times d}, \ H \in \mathbb{R}^{B \times h}",
        r"\frac{\partial L}{\partial X} = G W, \qquad \frac{\partial L}{\partial W} = G^\top X, "
        r"\qquad \frac{\partial L}{\partial b} = \sum_{\text{rows}} G, \qquad "
        r"G = \frac{\partial L}{\partial Y}",
        r"p_k = \frac{e^{z_k}}{\sum_j e^{z_j}}, \qquad L = -\log p_y = "
        r"\underbrace{m + \log \sum_j e^{z_j - m}}_{\text{log-sum-exp}, \ m = \max_j z_j} - z_y",
        r"\frac{\partial L}{\partial z} = p - \mathrm{onehot}(y)",
    ),
    look_at=(
        "forward_backward.png: each gradient (bottom) has the shape of the activation above "
        "it; rows are examples, columns neurons",
        "the hand-written backward of looplab.manual equals autograd's to float32 rounding",
        "the course's softmax (0.71 / 0.04 / 0.25) and loss (0.34) for logits [2, -1, 0.5] are "
        "wrong: the demo computes "
        + " / ".join(f"{p:.3f}" for p in TRUE_SOFTMAX)
        + f" and {-math.log(TRUE_SOFTMAX[0]):.3f}, and PyTorch agrees",
        "log_sum_exp.png: two-step softmax-then-log breaks past a gap of about 104, exp-first "
        "past 88; F.cross_entropy stays on the exact line",
    ),
    demos=(
        Demo("shapes forward and backward", shapes_forward_and_backward, ("forward_backward.png",)),
        Demo("cross-entropy by hand: the course's example", cross_entropy_by_hand),
        Demo("why the loss takes logits: log-sum-exp", log_sum_exp, ("log_sum_exp.png",)),
    ),
    exercises=(CROSS_ENTROPY, LINEAR_BACKWARD, TWO_LAYER_FORWARD),
    notes=(shape_tables(),),
)
