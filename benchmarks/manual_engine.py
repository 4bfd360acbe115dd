"""The manual engine against autograd, scikit-learn and the matrix-products bound, in one run.

A 64-128-10 ReLU MLP, plain SGD, batch 64, 20,000 rows, 3 epochs, on the same data:

- ``fit --engine manual``: looplab's hand-written numpy forward/backward, through ``fit``;
- ``fit --engine autograd``: the same MLP and loop with PyTorch's autograd;
- scikit-learn's ``MLPClassifier(solver="sgd")``, same architecture, batch, epochs and lr;
- the bound: only the five matrix products of each step's forward and backward (numpy).

Rows below the line explain the totals: the same steps without ``fit`` (no metrics, no batch
shuffling), and the optimizer alone (``torch.optim.SGD`` step + zero_grad, which both engines
pay inside ``fit``). Everything runs with one BLAS thread and one torch thread (the engine picks
one BLAS thread itself; the others get it here, so no side is slowed by thread wake-ups).
Each timing is the best of ``--repeats`` runs, taken in turn. Run::

    uv run python benchmarks/manual_engine.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
import warnings
from collections.abc import Callable
from datetime import date

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from looplab.config import Config
from looplab.data.prepared import PreparedData
from looplab.data.split import Split
from looplab.manual.mlp import ManualMLP
from looplab.models.mlp import ModelSpec, build_model
from looplab.run.fit import fit

ROWS, FEATURES, HIDDEN, CLASSES = 20_000, 64, 128, 10
BATCH, EPOCHS, LR = 64, 3, 0.05


def make_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian features, labels from a random linear teacher: (rows, 64) float32, (rows,) int."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(ROWS, FEATURES, generator=g)
    teacher = torch.randn(FEATURES, CLASSES, generator=g)
    return X, (X @ teacher).argmax(dim=1)


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call, with the garbage collector off (as ``timeit`` does).

    Everything here runs on one thread, so CPU time is the wall time of an idle machine; on a
    shared one it leaves out the time spent waiting for a core.
    """
    gc.collect()
    gc.disable()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        gc.enable()


def fit_engine(
    X: torch.Tensor, y: torch.Tensor, engine: str, impl: str = "torch"
) -> Callable[[], object]:
    """One ``fit`` of the MLP with ``engine`` (model built outside the timing)."""
    spec = ModelSpec(FEATURES, CLASSES, (HIDDEN,), "relu")
    config = Config(
        optimizer="sgd",
        lr=LR,
        batch_size=BATCH,
        epochs=EPOCHS,
        engine=engine,
        device="cpu",
        impl=impl,
    )
    data = PreparedData(train=Split(X, y), val=None, task="multiclass")
    model = build_model(spec, seed=0)
    return lambda: fit(model, data, config)


def raw_autograd(X: torch.Tensor, y: torch.Tensor) -> Callable[[], object]:
    """The autograd step in a bare loop over pre-sliced batches."""
    model = build_model(ModelSpec(FEATURES, CLASSES, (HIDDEN,), "relu"), seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = [(X[i : i + BATCH], y[i : i + BATCH]) for i in range(0, ROWS, BATCH)]

    def run() -> None:
        for _ in range(EPOCHS):
            for xb, yb in batches:
                loss = loss_fn(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()

    return run


def raw_manual(X: torch.Tensor, y: torch.Tensor) -> Callable[[], object]:
    """The hand-written step in a bare numpy loop: forward, backward, ``p -= lr * g``."""
    from looplab.manual.losses import CrossEntropyWithLogits

    model = build_model(ModelSpec(FEATURES, CLASSES, (HIDDEN,), "relu"), seed=0)
    net = ManualMLP.from_module(model)
    loss = CrossEntropyWithLogits()
    Xn, yn = X.numpy(), y.numpy()
    batches = [(Xn[i : i + BATCH], yn[i : i + BATCH]) for i in range(0, ROWS, BATCH)]

    def run() -> None:
        for _ in range(EPOCHS):
            for xb, yb in batches:
                loss.forward(net.forward(xb), yb)
                net.backward(loss.backward())
                for p, g in zip(net.parameters(), net.gradients(), strict=True):
                    p -= LR * g

    return run


def raw_engine_torch_sgd(X: torch.Tensor, y: torch.Tensor) -> Callable[[], object]:
    """The manual engine's model and loss with torch.optim.SGD, in a bare loop (fit's step
    without fit's metrics and shuffling)."""
    from looplab.manual.engine import manual_engine

    model = build_model(ModelSpec(FEATURES, CLASSES, (HIDDEN,), "relu"), seed=0)
    forward, loss_fn = manual_engine(model, "multiclass")
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    batches = [(X[i : i + BATCH], y[i : i + BATCH]) for i in range(0, ROWS, BATCH)]

    def run() -> None:
        for _ in range(EPOCHS):
            for xb, yb in batches:
                loss = loss_fn(forward(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()

    return run


def optimizer_only() -> Callable[[], object]:
    """torch.optim.SGD's zero_grad + step with the gradients put in place, as in fit."""
    model = build_model(ModelSpec(FEATURES, CLASSES, (HIDDEN,), "relu"), seed=0)
    params = list(model.parameters())
    grads = [torch.zeros_like(p) for p in params]
    opt = torch.optim.SGD(params, lr=LR)
    steps = EPOCHS * len(range(0, ROWS, BATCH))

    def run() -> None:
        for _ in range(steps):
            opt.zero_grad()
            for p, g in zip(params, grads, strict=True):
                p.grad = g
            opt.step()

    return run


def matmul_bound(X: torch.Tensor) -> Callable[[], object]:
    """Only the matrix products of each step: x W1^T, h W2^T, g^T h, g W2, d^T x."""
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((HIDDEN, FEATURES), dtype=np.float32)
    W2 = rng.standard_normal((CLASSES, HIDDEN), dtype=np.float32)
    Xn = X.numpy()
    batches = [Xn[i : i + BATCH] for i in range(0, ROWS, BATCH)]

    def run() -> None:
        for _ in range(EPOCHS):
            for xb in batches:
                h = xb @ W1.T  # (batch, hidden)
                z = h @ W2.T  # (batch, classes)
                _ = z.T @ h  # dW2
                d = z @ W2  # dh
                _ = d.T @ xb  # dW1

    return run


def sklearn_fit(X: torch.Tensor, y: torch.Tensor) -> Callable[[], object]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        activation="relu",
        solver="sgd",
        alpha=0.0,
        batch_size=BATCH,
        learning_rate_init=LR,
        momentum=0.0,
        nesterovs_momentum=False,
        max_iter=EPOCHS,
        n_iter_no_change=EPOCHS + 1,
        tol=0.0,
        early_stopping=False,
        shuffle=True,
        random_state=0,
    )
    Xn, yn = X.numpy(), y.numpy()

    def run() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xn, yn)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    torch.set_num_threads(1)
    X, y = make_data()
    runs: dict[str, Callable[[], Callable[[], object]]] = {
        "fit --engine manual": lambda: fit_engine(X, y, "manual"),
        "fit --engine autograd": lambda: fit_engine(X, y, "autograd"),
        "scikit-learn MLPClassifier(sgd)": lambda: sklearn_fit(X, y),
        "matrix products only (bound)": lambda: matmul_bound(X),
        "fit --engine manual --impl scratch": lambda: fit_engine(X, y, "manual", "scratch"),
        "fit --engine autograd --impl scratch": lambda: fit_engine(X, y, "autograd", "scratch"),
        "raw loop: numpy step, p -= lr g": lambda: raw_manual(X, y),
        "raw loop: manual engine + torch SGD": lambda: raw_engine_torch_sgd(X, y),
        "raw loop: autograd + torch SGD": lambda: raw_autograd(X, y),
        "torch.optim.SGD zero_grad + step only": optimizer_only,
    }
    wall = {name: float("inf") for name in runs}
    cpu = dict(wall)
    with threadpool_limits(limits=1, user_api="blas"):
        for make in runs.values():  # warm-up: imports, caches, first-call costs
            make()()
        for _ in range(args.repeats):
            for name, make in runs.items():
                w, c = timed(make())
                wall[name], cpu[name] = min(wall[name], w), min(cpu[name], c)
    title = f"{FEATURES}-{HIDDEN}-{CLASSES} MLP, SGD lr {LR}, batch {BATCH}, {ROWS:,} rows, "
    table = Table(title=title + f"{EPOCHS} epochs (best of {args.repeats})")
    columns = ("run", "CPU s", "÷ manual (CPU)", "wall s", "÷ manual (wall)")
    for col in columns:
        table.add_column(col, justify="left" if col == "run" else "right")
    key = "fit --engine manual"
    for i, name in enumerate(runs):
        c, w = cpu[name], wall[name]
        ratios = f"{c / cpu[key]:.3g}", f"{w:.4g}", f"{w / wall[key]:.3g}"
        table.add_row(name, f"{c:.4g}", *ratios, end_section=i == 3)
    console = Console(width=110)
    console.print(table)
    for label, t in (("CPU", cpu), ("wall", wall)):
        manual = t[key]
        auto = t["fit --engine autograd"]
        sk = t["scikit-learn MLPClassifier(sgd)"]
        bound = t["matrix products only (bound)"]
        console.print(
            f"{label}: manual / autograd = {manual / auto:.3f} (target <= 0.35); "
            f"scikit-learn / manual = {sk / manual:.2f} (target >= 3); "
            f"manual / bound = {manual / bound:.2f} (stretch <= 2.5)"
        )
    console.print(
        f"{platform.machine()}, {os.cpu_count()} cores, 1 BLAS + 1 torch thread, "
        f"torch {torch.__version__}, numpy {np.__version__}, {date.today()}"
    )


if __name__ == "__main__":
    main()
