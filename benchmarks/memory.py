"""Peak memory of training: looplab's ``fit`` against a plain slicing loop, and the default job
against ``import torch`` (issue 15).

Every case runs in a fresh Python process (this script, with ``--case``) and reports its peak
resident set size, ``resource.getrusage(RUSAGE_SELF).ru_maxrss``: what the process needed at
its worst, imports included. Cases:

- ``import torch``: the floor every case stands on; ``import torch._dynamo``, which the first
  ``torch.optim`` optimizer of a process imports (``Optimizer.add_param_group``).
- ``looplab imports``: what ``looplab.fit`` and its data loading import, nothing run.
- ``default job``: ``looplab.fit`` of the default job (moons, 1,000 rows, 2-16-16-1, Adam,
  batch 32, 100 epochs, validation every epoch), data prepared by ``load_prepared``; and the
  same with ``engine="manual"``, whose fused optimizers are not ``torch.optim``'s.
- for 10k, 100k and 1M rows x 64 features (float32, 10 classes, MLP 64-128-10, SGD, batch 64,
  2 epochs; the data made in the process, the same for each side):
  ``fit``: ``looplab.fit`` on the in-memory tensors (``PreparedData(train=Split(X, y))``);
  ``plain loop, SGD by hand``: the leanest hand-written loop, the reference: a permutation
  each epoch, each batch gathered by ``X[perm[i : i + 64]]`` (the data held once), the update
  ``p -= lr * p.grad`` (no ``torch.optim``, so no ``torch._dynamo``: looplab's fit imports
  neither, run/dynamo_free.py);
  ``plain loop``: the same with ``torch.optim.SGD``, as a user writes it;
  ``plain loop, epoch gather``: that loop gathering the epoch at once
  (``Xs = X[perm]``, then slices), as many hand-written loops do.
- at 1M rows, from raw features: ``prepare + fit``: looplab's ``prepare`` (standardization
  fitted on the rows, no validation split) then ``fit``; ``plain: standardize + loop``: the
  course's ``X = (X - X.mean(0)) / X.std(0)`` then the plain loop with SGD by hand.

The table gives each peak, the ratio to its reference and the targets, met or not. Run::

    uv run python benchmarks/memory.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
from datetime import datetime

import torch
from torch import Tensor

FEATURES, CLASSES, HIDDEN, BATCH, EPOCHS = 64, 10, 128, 64, 2


def peak_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def make_data(rows: int) -> tuple[Tensor, Tensor]:
    """(rows, 64) float32 Gaussian features, labels of a random linear teacher."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(rows, FEATURES, generator=g)
    teacher = torch.randn(FEATURES, CLASSES, generator=g)
    return X, (X @ teacher).argmax(dim=1)


def plain_loop(X: Tensor, y: Tensor, epoch_gather: bool, by_hand: bool = False) -> None:
    """The plain slicing loop with ``torch.optim.SGD`` (which imports ``torch._dynamo``), or
    (``by_hand``) with ``p -= lr * p.grad``: the leanest loop there is."""
    from torch import nn

    from looplab.models.mlp import ModelSpec, build_model

    model = build_model(ModelSpec(FEATURES, CLASSES, (HIDDEN,), "relu"), seed=0)
    params = list(model.parameters())
    optimizer = None if by_hand else torch.optim.SGD(params, lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(0)
    for _ in range(EPOCHS):
        perm = torch.randperm(len(X), generator=g)
        if epoch_gather:
            Xs, ys = X[perm], y[perm]
        for i in range(0, len(X), BATCH):
            if epoch_gather:
                xb, yb = Xs[i : i + BATCH], ys[i : i + BATCH]
            else:
                idx = perm[i : i + BATCH]
                xb, yb = X[idx], y[idx]
            loss = loss_fn(model(xb), yb)
            if optimizer is None:
                model.zero_grad()
                loss.backward()
                with torch.no_grad():
                    for p in params:
                        p -= 0.05 * p.grad  # type: ignore[operator]
                continue
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def looplab_fit(X: Tensor, y: Tensor) -> None:
    from looplab import Config, PreparedData, Split, build_model, fit
    from looplab.models.mlp import ModelSpec

    data = PreparedData(train=Split(X, y), val=None, task="multiclass",
                        class_names=[str(c) for c in range(CLASSES)])  # fmt: skip
    config = Config(optimizer="sgd", lr=0.05, batch_size=BATCH, epochs=EPOCHS, device="cpu",
                    threads=1, val_fraction=0.0)  # fmt: skip
    fit(build_model(ModelSpec(FEATURES, CLASSES, (HIDDEN,), "relu"), seed=0), data, config)


def run_case(case: str, rows: int) -> None:
    """The body of one subprocess."""
    torch.set_num_threads(1)
    if case == "import torch":
        pass
    elif case == "looplab imports":
        import looplab.data.prepared
        import looplab.run.fit  # noqa: F401
    elif case == "import torch._dynamo":
        importlib.import_module("torch._dynamo")
    elif case in ("default job", "default job, manual engine"):
        from looplab import Config, build_model, fit, load_prepared
        from looplab.run.build import model_spec

        config = Config(device="cpu", threads=1)
        if case.endswith("manual engine"):
            config = config.replace(engine="manual")
        data = load_prepared(config)
        fit(build_model(model_spec(config, data), seed=0), data, config)
    elif case == "fit":
        looplab_fit(*make_data(rows))
    elif case == "plain loop":
        plain_loop(*make_data(rows), epoch_gather=False)
    elif case == "plain loop, SGD by hand":
        plain_loop(*make_data(rows), epoch_gather=False, by_hand=True)
    elif case == "plain loop, epoch gather":
        plain_loop(*make_data(rows), epoch_gather=True)
    elif case == "prepare + fit":
        from looplab import Config, Split
        from looplab.data.prepared import prepare
        from looplab.data.task_data import TaskData

        X, y = make_data(rows)
        features = [f"x{i}" for i in range(FEATURES)]
        raw = TaskData("gauss", X, y, "multiclass", features, [str(c) for c in range(CLASSES)])
        del X, y
        data = prepare(raw, Config(val_fraction=0.0, standardize=True))
        del raw  # as load_prepared does: only the prepared copy stays
        assert isinstance(data.train, Split)
        looplab_fit(data.train.X, data.train.y)
    elif case == "plain: standardize + loop":
        X, y = make_data(rows)
        X = (X - X.mean(0)) / X.std(0)
        plain_loop(X, y, epoch_gather=False, by_hand=True)
    else:
        raise SystemExit(f"no case {case!r}")
    print(json.dumps({"peak_mb": peak_mb()}))


def measure(case: str, rows: int = 0) -> float:
    """Peak RSS (MB) of ``case`` in a fresh process: the lower of two runs."""
    peaks = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, __file__, "--case", case, "--rows", str(rows)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        peaks.append(float(json.loads(out.strip().splitlines()[-1])["peak_mb"]))
    return min(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    if args.case:
        run_case(args.case, args.rows)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    rows_out: list[tuple[str, float, str, float, float | None]] = []
    torch_mb = measure("import torch")
    rows_out.append(("import torch", torch_mb, "", float("nan"), None))
    for case, name, target in (
        ("import torch._dynamo", "import torch._dynamo (the first torch.optim does)", None),
        ("looplab imports", "looplab imports (nothing run)", None),
        ("default job", "default job (looplab.fit)", 1.15),
        ("default job, manual engine", "default job, --engine manual (no torch.optim)", 1.15),
    ):
        mb = measure(case)
        rows_out.append((name, mb, "import torch", mb / torch_mb, target))
    for rows in (int(s) for s in args.sizes.split(",")):
        plain = measure("plain loop, SGD by hand", rows)
        optim = measure("plain loop", rows)
        gather = measure("plain loop, epoch gather", rows)
        mine = measure("fit", rows)
        label = f"{rows:,} x {FEATURES}"
        rows_out.append((f"{label}: plain loop, SGD by hand (data held once)", plain, "",
                         float("nan"), None))  # fmt: skip
        rows_out.append((f"{label}: plain loop, torch.optim.SGD", optim, "plain loop, by hand",
                         optim / plain, None))  # fmt: skip
        rows_out.append((f"{label}: plain loop, torch.optim, epoch gather", gather,
                         "plain loop, by hand", gather / plain, None))  # fmt: skip
        rows_out.append((f"{label}: looplab.fit", mine, "plain loop, by hand", mine / plain,
                         1.1 if rows >= 1_000_000 else None))  # fmt: skip
        if rows >= 1_000_000:
            raw_plain = measure("plain: standardize + loop", rows)
            raw_mine = measure("prepare + fit", rows)
            rows_out.append((f"{label} raw: plain, standardize + loop", raw_plain, "",
                             float("nan"), None))  # fmt: skip
            rows_out.append((f"{label} raw: looplab prepare + fit", raw_mine,
                             "plain, standardize + loop", raw_mine / raw_plain, 1.1))  # fmt: skip
    table = Table(title=f"Peak RSS of a fresh process (MB; {EPOCHS} epochs, batch {BATCH})")
    for col in ("case", "peak MB", "÷ reference", "reference", "target", ""):
        table.add_column(col, justify="left" if col in ("case", "reference") else "right")
    for name, mb, ref, ratio, target in rows_out:
        verdict = ""
        if target is not None:
            verdict = "[green]met[/]" if ratio <= target else "[red]not met[/]"
        table.add_row(
            name,
            f"{mb:,.0f}",
            "" if ratio != ratio else f"{ratio:.3f}",
            ref,
            "" if target is None else f"<= {target}",
            verdict,
        )
    console.print(table)
    console.print(
        f"{platform.machine()}, {os.cpu_count()} cores, Linux ru_maxrss, lower of 2 runs each; "
        f"{datetime.now():%Y-%m-%d %H:%M}; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
