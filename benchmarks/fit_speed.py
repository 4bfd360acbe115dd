"""``fit`` against a plain PyTorch loop and scikit-learn, on the course's two jobs (issue 10 §2).

Two workloads, every case run side by side in this one process on one torch thread and one
BLAS thread, in turn, best of ``--repeats`` by CPU seconds (``time.process_time``: on a shared
machine it leaves out the time spent waiting for a core):

1. The default job: moons, 1,000 rows (800 train, 200 validation), MLP 2-16-16-1 (ReLU),
   Adam lr 0.01, batch 32, 100 epochs, a validation pass after every epoch. Compared:
   ``looplab.fit`` (public API) with ``engine="autograd"`` and ``engine="manual"``; a plain
   hand-written PyTorch slicing loop doing the same work (shuffle, slice, forward, loss,
   zero_grad, backward, step, the epoch's loss and accuracy, then validation loss and
   accuracy), with ``torch.optim.Adam``'s default and its ``fused=True`` implementation;
   scikit-learn's ``MLPClassifier`` (same network, Adam, batch, epochs), without and with a
   validation pass (``predict_proba``, log-loss and accuracy) after every epoch.
2. A wider model: 20,000 rows x 64 features -> 128 -> 10 classes, batch 64, 3 epochs, SGD
   lr 0.05 (and Adam lr 0.001), no validation. Compared: ``fit`` with both engines, the plain
   loop, ``MLPClassifier(solver="sgd" | "adam")``, and two bounds: the five matrix products
   of each step alone (numpy), and the hand-written numpy step in a bare loop.

The last table checks each ratio against its target (met / not met). Run::

    uv run python benchmarks/fit_speed.py [--repeats 5] [--only default|wide]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from looplab import Config, PreparedData, Split, build_model, fit, load_prepared
from looplab.models.mlp import ModelSpec

Run = Callable[[], float]  # one timed run; returns the final (training or validation) accuracy


@dataclass
class Case:
    name: str
    make: Callable[[], Run]  # builds the inputs (untimed) and returns the run


def cpu_seconds(run: Run) -> tuple[float, float]:
    """(CPU seconds, accuracy) of one run, garbage collector off as ``timeit`` does."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        accuracy = run()
        return time.process_time() - start, accuracy
    finally:
        gc.enable()


# ---- the default job ---------------------------------------------------------------------

DEFAULT = Config(device="cpu", threads=1)  # moons 1000, 2-16-16-1 relu, adam 0.01, batch 32


def default_data() -> PreparedData:
    return load_prepared(DEFAULT)


def default_model(data: PreparedData) -> nn.Module:
    return build_model(ModelSpec(data.n_features, 1, (16, 16), "relu"), seed=0)


def looplab_fit(data: PreparedData, config: Config, model: Callable[[], nn.Module]) -> Run:
    """``looplab.fit`` as a user calls it; the model is built outside the timing."""
    net = model()

    def run() -> float:
        history = fit(net, data, config)
        last = history.last
        return last.get("val_accuracy", last.get("train_accuracy", float("nan")))

    return run


def plain_binary_loop(data: PreparedData, fused: bool | None) -> Run:
    """The loop of the course, written out by hand with ``torch.optim.Adam``."""
    assert isinstance(data.train, Split) and isinstance(data.val, Split)
    X, y = data.train.X, data.train.y
    Xv, yv = data.val.X, data.val.y
    model = default_model(data)
    loss_fn = nn.BCEWithLogitsLoss()
    epochs, batch = DEFAULT.epochs, 32

    def run() -> float:
        optimizer = torch.optim.Adam(model.parameters(), lr=DEFAULT.lr, fused=fused)
        g = torch.Generator().manual_seed(0)
        accuracy = float("nan")
        for _ in range(epochs):
            model.train()
            perm = torch.randperm(len(X), generator=g)
            Xs, ys = X.index_select(0, perm), y.index_select(0, perm)
            total, correct = 0.0, 0
            for i in range(0, len(X), batch):
                xb, yb = Xs[i : i + batch], ys[i : i + batch]
                logits = model(xb).squeeze(-1)
                loss = loss_fn(logits, yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(yb)
                correct += int(((logits > 0) == yb).sum())
            model.eval()
            with torch.no_grad():
                val_logits = model(Xv).squeeze(-1)
                val_loss = loss_fn(val_logits, yv).item()
                accuracy = ((val_logits > 0) == yv).float().mean().item()
            del total, correct, val_loss  # a real loop would print or store these
        return accuracy

    return run


def sklearn_default(data: PreparedData, validate: bool) -> Run:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss
    from sklearn.neural_network import MLPClassifier

    assert isinstance(data.train, Split) and isinstance(data.val, Split)
    X, y = data.train.X.numpy(), data.train.y.numpy().astype(np.int64)
    Xv, yv = data.val.X.numpy(), data.val.y.numpy().astype(np.int64)
    settings = dict(
        hidden_layer_sizes=(16, 16),
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=32,
        learning_rate_init=DEFAULT.lr,
        shuffle=True,
        random_state=0,
    )

    def run() -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if not validate:
                clf = MLPClassifier(
                    max_iter=DEFAULT.epochs, tol=0.0, n_iter_no_change=10**9, **settings
                )
                clf.fit(X, y)
                return float((clf.predict(Xv) == yv).mean())
            clf = MLPClassifier(**settings)
            accuracy = float("nan")
            for _ in range(DEFAULT.epochs):
                clf.partial_fit(X, y, classes=[0, 1])
                p = clf.predict_proba(Xv)  # (rows, 2)
                _ = log_loss(yv, p, labels=[0, 1])
                accuracy = float(((p[:, 1] > 0.5) == yv).mean())
            return accuracy

    return run


# ---- the wide model -----------------------------------------------------------------------

ROWS, FEATURES, HIDDEN, CLASSES = 20_000, 64, 128, 10
WIDE_BATCH, WIDE_EPOCHS = 64, 3
WIDE_LR = {"sgd": 0.05, "adam": 0.001}


def wide_data() -> PreparedData:
    """Gaussian features, labels from a random linear teacher: (rows, 64) float32, (rows,)."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(ROWS, FEATURES, generator=g)
    teacher = torch.randn(FEATURES, CLASSES, generator=g)
    return PreparedData(
        train=Split(X, (X @ teacher).argmax(dim=1)),
        val=None,
        task="multiclass",
        feature_names=[f"x{i}" for i in range(FEATURES)],
        class_names=[str(c) for c in range(CLASSES)],
    )


def wide_model() -> nn.Module:
    return build_model(ModelSpec(FEATURES, CLASSES, (HIDDEN,), "relu"), seed=0)


def wide_config(optimizer: str, engine: str) -> Config:
    return Config(
        optimizer=optimizer,
        lr=WIDE_LR[optimizer],
        batch_size=WIDE_BATCH,
        epochs=WIDE_EPOCHS,
        engine=engine,
        device="cpu",
        threads=1,
        val_fraction=0.0,
    )


def plain_wide_loop(data: PreparedData) -> Run:
    """The plain slicing loop with ``torch.optim.SGD``, the epoch's loss and accuracy kept."""
    assert isinstance(data.train, Split)
    X, y = data.train.X, data.train.y
    model = wide_model()
    loss_fn = nn.CrossEntropyLoss()

    def run() -> float:
        optimizer = torch.optim.SGD(model.parameters(), lr=WIDE_LR["sgd"])
        g = torch.Generator().manual_seed(0)
        correct = 0
        for _ in range(WIDE_EPOCHS):
            perm = torch.randperm(len(X), generator=g)
            Xs, ys = X.index_select(0, perm), y.index_select(0, perm)
            total, correct = 0.0, 0
            for i in range(0, len(X), WIDE_BATCH):
                xb, yb = Xs[i : i + WIDE_BATCH], ys[i : i + WIDE_BATCH]
                logits = model(xb)
                loss = loss_fn(logits, yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(yb)
                correct += int((logits.argmax(1) == yb).sum())
        return correct / len(X)

    return run


def sklearn_wide(data: PreparedData, solver: str) -> Run:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    assert isinstance(data.train, Split)
    X, y = data.train.X.numpy(), data.train.y.numpy()
    clf = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        activation="relu",
        solver=solver,
        alpha=0.0,
        batch_size=WIDE_BATCH,
        learning_rate_init=WIDE_LR[solver],
        momentum=0.0,
        nesterovs_momentum=False,
        max_iter=WIDE_EPOCHS,
        n_iter_no_change=10**9,
        tol=0.0,
        shuffle=True,
        random_state=0,
    )

    def run() -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        return float("nan")

    return run


def matmul_bound(data: PreparedData) -> Run:
    """Only the matrix products of each step: x W1^T, h W2^T, g^T h, g W2, d^T x."""
    assert isinstance(data.train, Split)
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((HIDDEN, FEATURES), dtype=np.float32)
    W2 = rng.standard_normal((CLASSES, HIDDEN), dtype=np.float32)
    Xn = data.train.X.numpy()
    batches = [Xn[i : i + WIDE_BATCH] for i in range(0, ROWS, WIDE_BATCH)]

    def run() -> float:
        for _ in range(WIDE_EPOCHS):
            for xb in batches:
                h = xb @ W1.T  # (batch, hidden)
                z = h @ W2.T  # (batch, classes)
                _ = z.T @ h  # dW2 (classes, hidden)
                d = z @ W2  # dh (batch, hidden)
                _ = d.T @ xb  # dW1 (hidden, features)
        return float("nan")

    return run


def bare_numpy_step(data: PreparedData) -> Run:
    """The hand-written forward + backward and ``p -= lr * g`` in a bare loop (no fit)."""
    from looplab.manual.losses import CrossEntropyWithLogits
    from looplab.manual.mlp import ManualMLP
    from looplab.models.mlp import MLP

    assert isinstance(data.train, Split)
    model = wide_model()
    assert isinstance(model, MLP)
    net = ManualMLP.from_module(model)
    loss = CrossEntropyWithLogits()
    Xn, yn = data.train.X.numpy(), data.train.y.numpy()
    batches = [(Xn[i : i + WIDE_BATCH], yn[i : i + WIDE_BATCH]) for i in range(0, ROWS, 64)]
    lr = np.float32(WIDE_LR["sgd"])

    def run() -> float:
        for _ in range(WIDE_EPOCHS):
            for xb, yb in batches:
                loss.forward(net.forward(xb), yb)
                net.backward(loss.backward())
                for p, g in zip(net.parameters(), net.gradients(), strict=True):
                    p -= lr * g
        return float("nan")

    return run


# ---- targets ------------------------------------------------------------------------------


@dataclass
class Target:
    what: str
    numerator: str
    denominator: str
    limit: float  # the ratio numerator / denominator must be <= limit

    def ratio(self, best: dict[str, float]) -> float:
        return best[self.numerator] / best[self.denominator]


DEFAULT_TARGETS = [
    Target(
        "manual fit >= 1.4x faster than scikit-learn with validation",
        "fit, engine manual",
        "scikit-learn, validation every epoch",
        1 / 1.4,
    ),
    Target(
        "autograd fit within 1.05x of the plain loop (same Adam: fused)",
        "fit, engine autograd",
        "plain loop, Adam fused",
        1.05,
    ),
    Target(
        "autograd fit within 1.05x of the plain loop (default Adam)",
        "fit, engine autograd",
        "plain loop, Adam default",
        1.05,
    ),
]
WIDE_TARGETS = [
    Target("manual fit <= 0.30x autograd fit (SGD)", "fit manual, SGD", "fit autograd, SGD", 0.30),
    Target(
        "manual fit >= 2x faster than scikit-learn (SGD)",
        "fit manual, SGD",
        "scikit-learn, SGD",
        0.5,
    ),
    Target(
        "manual fit no slower than scikit-learn (Adam)",
        "fit manual, Adam",
        "scikit-learn, Adam",
        1.0,
    ),
    Target(
        "manual fit <= 3x the matrix-product bound (SGD)",
        "fit manual, SGD",
        "matrix products only (bound)",
        3.0,
    ),
]


def default_cases() -> list[Case]:
    data = default_data()
    model = lambda: default_model(data)  # noqa: E731
    return [
        Case("plain loop, Adam default", lambda: plain_binary_loop(data, None)),
        Case("plain loop, Adam fused", lambda: plain_binary_loop(data, True)),
        Case("fit, engine autograd", lambda: looplab_fit(data, DEFAULT, model)),
        Case(
            "fit, engine manual",
            lambda: looplab_fit(data, DEFAULT.replace(engine="manual"), model),
        ),
        Case("scikit-learn", lambda: sklearn_default(data, validate=False)),
        Case("scikit-learn, validation every epoch", lambda: sklearn_default(data, True)),
    ]


def wide_cases() -> list[Case]:
    data = wide_data()
    return [
        Case(
            "fit manual, SGD", lambda: looplab_fit(data, wide_config("sgd", "manual"), wide_model)
        ),
        Case(
            "fit autograd, SGD",
            lambda: looplab_fit(data, wide_config("sgd", "autograd"), wide_model),
        ),
        Case("plain loop, SGD", lambda: plain_wide_loop(data)),
        Case("scikit-learn, SGD", lambda: sklearn_wide(data, "sgd")),
        Case(
            "fit manual, Adam", lambda: looplab_fit(data, wide_config("adam", "manual"), wide_model)
        ),
        Case(
            "fit autograd, Adam",
            lambda: looplab_fit(data, wide_config("adam", "autograd"), wide_model),
        ),
        Case("scikit-learn, Adam", lambda: sklearn_wide(data, "adam")),
        Case("matrix products only (bound)", lambda: matmul_bound(data)),
        Case("bare numpy step, p -= lr g", lambda: bare_numpy_step(data)),
    ]


def measure(cases: list[Case], repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best CPU seconds and last accuracy of each case, cases interleaved repeat by repeat."""
    runs = {c.name: c.make() for c in cases}
    for run in runs.values():  # warm-up: imports and first-call costs
        run()
    best = {name: float("inf") for name in runs}
    accuracy = {name: float("nan") for name in runs}
    for _ in range(repeats):
        for case in cases:
            seconds, accuracy[case.name] = cpu_seconds(case.make())
            best[case.name] = min(best[case.name], seconds)
    return best, accuracy


def show(
    console: Console,
    title: str,
    best: dict[str, float],
    accuracy: dict[str, float],
    reference: str,
) -> None:
    table = Table(title=title)
    for col in ("case", "CPU s (best)", f"÷ {reference}", "accuracy"):
        table.add_column(col, justify="left" if col == "case" else "right")
    for name, seconds in best.items():
        acc = accuracy[name]
        table.add_row(
            name,
            f"{seconds:.3f}",
            f"{seconds / best[reference]:.2f}x",
            "" if np.isnan(acc) else f"{acc:.3f}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=("default", "wide"), default=None)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    torch.set_num_threads(1)
    console = Console(width=120)
    load = os.getloadavg()
    results: list[tuple[Target, float]] = []
    with threadpool_limits(limits=1, user_api="blas"):
        if args.only in (None, "default"):
            best, acc = measure(default_cases(), args.repeats)
            show(console, "Default job: moons 1,000 rows, 2-16-16-1, Adam, batch 32, 100 epochs",
                 best, acc, "plain loop, Adam default")  # fmt: skip
            results += [(t, t.ratio(best)) for t in DEFAULT_TARGETS]
        if args.only in (None, "wide"):
            best, acc = measure(wide_cases(), args.repeats)
            show(console, "20,000 x 64 -> 128 -> 10, batch 64, 3 epochs", best, acc,
                 "matrix products only (bound)")  # fmt: skip
            results += [(t, t.ratio(best)) for t in WIDE_TARGETS]
    table = Table(title="Targets (ratios of best CPU seconds)")
    for col in ("target", "ratio", "limit", ""):
        table.add_column(col, justify="left" if col == "target" else "right")
    for target, ratio in results:
        met = ratio <= target.limit
        verdict = "[green]met[/]" if met else "[red]not met[/]"
        table.add_row(target.what, f"{ratio:.3f}", f"<= {target.limit:.3g}", verdict)
    console.print(table)
    console.print(machine_line(args.repeats, load[0]))


def machine_line(repeats: int, start_load: float) -> str:
    """The machine, versions, time and load a table was measured with."""
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, 1 torch + 1 BLAS thread, best of "
        f"{repeats}, CPU seconds; torch {torch.__version__}, numpy {np.__version__}; "
        f"{datetime.now():%Y-%m-%d %H:%M}; load average {start_load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end"
    )


if __name__ == "__main__":
    main()
