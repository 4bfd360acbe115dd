""" "Export as PyTorch": a standalone, typed script (torch and numpy only) that reproduces a
playground run: the same data from the same seed, the same model and initial weights, loss,
optimizer and schedule, and the plain loop of the course (forward, loss, zero_grad, backward,
step). Its final training loss equals the playground's to float precision
(``tests/playground/test_export_torch.py`` runs it and compares).

The data functions are copied from :mod:`looplab.playground.datasets` (and the initialization
from :mod:`looplab.models.init`) with ``inspect.getsource``: one text, so the two cannot drift.
"""

from __future__ import annotations

import inspect
import itertools
import textwrap
from collections.abc import Callable
from typing import Any

import torch

from looplab.models import init as init_module
from looplab.playground import datasets as ds
from looplab.playground.catalogue import DATASETS
from looplab.playground.network import penalty
from looplab.playground.session import optimizer_config
from looplab.playground.settings import Settings
from looplab.playground.uploads import Upload
from looplab.run.optimizers import fastest_implementation
from looplab.run.schedules import PLATEAU_FACTOR, PLATEAU_PATIENCE, STEP_GAMMA, step_every
from looplab.run.schedules import warmup_epochs as schedule_warmup

ACTIVATION_CODE = {
    "relu": "nn.ReLU()",
    "tanh": "nn.Tanh()",
    "sigmoid": "nn.Sigmoid()",
    "gelu": "nn.GELU()",
    "leaky_relu": "nn.LeakyReLU()",
    "identity": "nn.Identity()",
}
LOSS_CODE = {
    "regression": "nn.MSELoss()",
    "binary": "nn.BCEWithLogitsLoss()",
    "multiclass": "nn.CrossEntropyLoss()",
}
PER_UPDATE = ("warmup_cosine", "one_cycle")  # schedules stepped after every update


def source(fn: Callable[..., Any]) -> str:
    return textwrap.dedent(inspect.getsource(fn)).rstrip() + "\n"


def export_script(
    settings: Settings,
    task: str,
    outputs: int,
    epochs_done: int,
    upload: Upload | None = None,
    paused_mid_epoch: bool = False,
) -> str:
    """The script of the run ``settings`` describes, trained for ``epochs_done`` epochs (the
    planned ``settings.epochs`` when none is done yet)."""
    s = settings
    epochs = epochs_done if epochs_done > 0 else s.epochs
    parts = [
        _header(s, task, epochs, paused_mid_epoch),
        _constants(s, epochs),
        _data(s, task, upload),
        _model(s, outputs),
        _batches(),
        _extras(s),
        _main(s, task),
    ]
    return "\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def _header(s: Settings, task: str, epochs: int, partial: bool) -> str:
    info = DATASETS[s.dataset]
    shape = " -> ".join(str(w) for w in (len(s.features), *s.hidden)) + " -> out"
    when = (
        f"the {epochs} epochs the playground had finished when you exported"
        if epochs < s.epochs
        else f"all {epochs} epochs"
    )
    if partial:
        when += " (it was part-way into the next one: this script stops at the epoch's end)"
    return f'''#!/usr/bin/env python3
"""A looplab playground run as a plain PyTorch script: {info.label} ({task}), an MLP
{shape} ({s.activation}), {s.optimizer} at learning rate {s.lr:g}, batch {s.batch_size}.

It needs only torch and numpy: `python {script_name(s)}`. It trains for {when},
prints the losses as it goes, and ends with one JSON line of the final numbers; its final
training loss is the playground's (same seed, same data, same initial weights, same steps).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn'''


def script_name(s: Settings) -> str:
    return f"playground_{s.dataset}_seed{s.seed}.py"


def _constants(s: Settings, epochs: int) -> str:
    lines = [
        f"SEED = {s.seed}",
        f"N = {s.n}  # points generated",
        f"NOISE = {s.noise!r}",
        f"TRAIN_PERCENT = {s.train_percent}  # the rest is the test set",
        f"FEATURES = {list(s.features)!r}  # the network's inputs, computed from (x1, x2)",
        f"BATCH_SIZE = {s.batch_size}",
        f"EPOCHS = {epochs}  # epochs to train",
        f"PLANNED_EPOCHS = {s.epochs}  # the run's length, which the schedule is planned over",
    ]
    return "\n".join(lines)


def _data(s: Settings, task: str, upload: Upload | None) -> str:
    info = DATASETS[s.dataset]
    functions: list[str] = []
    if upload is not None:
        x, y, names = upload.points(s.problem)
        rows = ",\n".join(f"    [{a!r}, {b!r}]" for a, b in x.tolist())
        values = ", ".join(repr(float(v)) if task == "regression" else str(int(v)) for v in y)
        functions.append(
            f"# {upload.name}, as uploaded"
            + (f" (classes in order: {', '.join(names)})" if names else "")
            + f"\nPOINTS = np.array([\n{rows},\n])\nTARGETS = np.array([{values}])"
        )
        call = "POINTS, TARGETS"
    elif s.dataset == "blobs":
        functions += [source(ds.sklearn_shuffle), source(ds.blobs)]
        call = f"blobs(N, NOISE, SEED, classes={s.classes})"
    else:
        generator = info.generator
        assert generator is not None
        if s.dataset in ("moons", "circles"):
            functions.append(source(ds.sklearn_shuffle))
        functions.append(source(generator))
        call = f"{generator.__name__}(N, NOISE, SEED)"
    if info.scaled:
        functions.append(source(ds.fit_to_plane))
    functions += [source(ds.input_features), source(ds.train_test_split)]
    scale = (
        "    x = fit_to_plane(x)  # into the playground's plane, [-5, 5]^2\n" if info.scaled else ""
    )
    target_type = "torch.int64" if task == "multiclass" else "torch.float32"
    cast = "" if task != "regression" else ".astype(np.float64)"
    make = f'''def make_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train and test features (rows, features) float32 and targets (rows,)."""
    x, y = {call}
    y = y{cast}
{scale}    features = input_features(x, FEATURES)  # (n, features) float64
    train, test = train_test_split(len(x), TRAIN_PERCENT, SEED)

    def tensors(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        X = torch.tensor(features[rows], dtype=torch.float32)
        return X, torch.tensor(y[rows], dtype={target_type})

    return (*tensors(train), *tensors(test))'''
    alias = "Points = tuple[np.ndarray, np.ndarray]  # x (n, 2) float64, y (n,)"
    return "# ---- data " + "-" * 88 + f"\n\n{alias}\n\n\n" + "\n\n".join(functions) + "\n\n" + make


def _model(s: Settings, outputs: int) -> str:
    widths = [len(s.features), *s.hidden]
    init_lines, forward = [], []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths), start=1):
        init_lines.append(f"self.fc{i} = nn.Linear({fan_in}, {fan_out})")
        layer = f"self.fc{i}(h)"
        if s.norm != "none":
            kind = "nn.BatchNorm1d" if s.norm == "batch" else "nn.LayerNorm"
            init_lines.append(f"self.norm{i} = {kind}({fan_out})")
            layer = f"self.norm{i}({layer})"
        init_lines.append(f"self.act{i} = {ACTIVATION_CODE[s.activation]}")
        layer = f"self.act{i}({layer})"
        if s.dropout > 0:
            init_lines.append(f"self.drop{i} = nn.Dropout({s.dropout!r})")
            layer = f"self.drop{i}({layer})"
        skip = s.residual and fan_in == fan_out
        line = f"h = h + {layer}" if skip else f"h = {layer}"
        forward.append(f"{line}  # (batch, {fan_out}){' skip block' if skip else ''}")
    last = len(widths)
    init_lines.append(f"self.fc{last} = nn.Linear({widths[-1]}, {outputs})")
    forward.append(f"return self.fc{last}(h)  # (batch, {outputs}) logits: raw scores")
    body = "\n        ".join(init_lines)
    steps = "\n        ".join(["h = x  # (batch, features)", *forward])
    return f'''# ---- model {"-" * 87}


class Net(nn.Module):
    """The playground's network, its layers made in the order looplab's MLP makes them (so
    torch.manual_seed gives the same initial weights)."""

    def __init__(self) -> None:
        super().__init__()
        {body}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        {steps}'''


def _batches() -> str:
    return '''def batches(
    X: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of shuffled mini-batches (the last may be short), as looplab draws them."""
    if batch_size < len(X):  # a full batch is the same in any order: no draw
        order = torch.randperm(len(X), generator=generator)
        X, y = X.index_select(0, order), y.index_select(0, order)
    for start in range(0, len(X), batch_size):
        yield X[start : start + batch_size], y[start : start + batch_size]'''


def _extras(s: Settings) -> str:
    parts = []
    if s.init != "default":
        parts += [source(init_module.weight_std), source(init_module.init_linear)]
    if s.regularization != "none" and s.reg_rate > 0:
        parts.append(source(penalty))
    return "\n\n".join(parts)


def _optimizer(s: Settings) -> str:
    lr, wd, mu = s.lr, s.weight_decay, s.momentum
    decay = f", weight_decay={wd!r}" if wd else ""
    # the implementation (fused, foreach) build_torch_optimizer takes for the playground's CPU
    # weights: the same arithmetic to the last bit
    fast = fastest_implementation(s.optimizer, [torch.zeros(1)])
    decay += "".join(f", {k}={v!r}" for k, v in fast.items())
    return {
        "sgd": f"torch.optim.SGD(model.parameters(), lr={lr!r}{decay})",
        "momentum": f"torch.optim.SGD(model.parameters(), lr={lr!r}, momentum={mu!r}{decay})",
        "nesterov": f"torch.optim.SGD(model.parameters(), lr={lr!r}, momentum={mu!r}, "
        f"nesterov=True{decay})",
        "rmsprop": f"torch.optim.RMSprop(model.parameters(), lr={lr!r}{decay})",
        "adam": f"torch.optim.Adam(model.parameters(), lr={lr!r}{decay})",
        "adamw": f"torch.optim.AdamW(model.parameters(), lr={lr!r}, weight_decay={wd!r}"
        + "".join(f", {k}={v!r}" for k, v in fast.items())
        + ")",
    }[s.optimizer]


def _scheduler(s: Settings) -> tuple[str, str]:
    """The scheduler's construction and ``per_update`` | ``per_epoch`` | ``plateau``, as
    looplab's ``build_scheduler`` makes it (``run/schedules.py``)."""
    warmup = schedule_warmup(optimizer_config(s))
    name = "warmup_cosine" if s.schedule == "cosine" and warmup else s.schedule
    steps = s.steps_per_epoch
    total = s.epochs * steps
    sched = "torch.optim.lr_scheduler"
    if name == "constant":
        return "", ""
    if name == "plateau":
        code = (f"{sched}.ReduceLROnPlateau(optimizer, factor={PLATEAU_FACTOR}, "
                f"patience={PLATEAU_PATIENCE})")  # fmt: skip
        return code, "plateau"
    if name == "step":
        code = f"{sched}.StepLR(optimizer, step_size={step_every(s.epochs)}, gamma={STEP_GAMMA})"
    elif name == "exponential":
        code = f"{sched}.ExponentialLR(optimizer, gamma=0.01 ** (1 / PLANNED_EPOCHS))"
    elif name == "cosine":
        code = f"{sched}.CosineAnnealingLR(optimizer, T_max=PLANNED_EPOCHS)"
    elif name == "warmup_cosine":
        w = warmup * steps
        code = (
            f"{sched}.SequentialLR(\n        optimizer,\n"
            f"        [{sched}.LinearLR(optimizer, 1 / {w + 1}, 1.0, total_iters={w}),\n"
            f"         {sched}.CosineAnnealingLR(optimizer, T_max={total - w})],\n"
            f"        milestones=[{w}],\n    )"
        )
    else:  # one_cycle
        pct = warmup / s.epochs if warmup else 0.3
        code = (
            f"{sched}.OneCycleLR(\n        optimizer, max_lr={s.lr!r}, total_steps={total}, "
            f"pct_start={pct!r}, cycle_momentum=False\n    )"
        )
    return code, "per_update" if name in PER_UPDATE else "per_epoch"


def _main(s: Settings, task: str) -> str:
    squeeze = "" if task == "multiclass" else ".squeeze(-1)"
    reg = s.regularization != "none" and s.reg_rate > 0
    term = f" + penalty(model, {s.regularization!r}, {s.reg_rate!r})" if reg else ""
    scheduler, when = _scheduler(s)
    metric = "r2" if task == "regression" else "accuracy"
    lines = [
        "def main() -> None:",
        "    torch.set_num_threads(1)  # as the playground: sums add up in the same order",
        "    X_train, y_train, X_test, y_test = make_data()",
        "    torch.manual_seed(SEED)  # the initial weights (and dropout's masks) come from here",
        "    model = Net()",
    ]
    if s.init != "default":
        lines += [
            "    weights = torch.Generator().manual_seed(SEED)",
            "    for module in model.modules():",
            "        if isinstance(module, nn.Linear):",
            f"            init_linear(module, {s.init!r}, {s.init_scale!r}, weights)",
        ]
    lines += [
        f"    loss_fn = {LOSS_CODE[task]}",
        "",
        "    def objective(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:",
        '        """The loss the optimizer minimizes: the batch mean'
        + (' plus the penalty."""' if reg else '."""'),
        f"        return loss_fn(logits{squeeze}, y){term}",
        "",
        f"    optimizer = {_optimizer(s)}",
    ]
    if scheduler:
        lines.append(f"    scheduler = {scheduler}")
    lines += [
        "    shuffle = torch.Generator().manual_seed(SEED)",
        "    report_every = max(1, EPOCHS // 10)",
        "    train_loss = test_loss = math.nan",
        "    for epoch in range(1, EPOCHS + 1):",
        "        model.train()",
        "        total, count = 0.0, 0",
        "        for xb, yb in batches(X_train, y_train, BATCH_SIZE, shuffle):",
        "            logits = model(xb)  # (batch, outputs)",
        "            loss = objective(logits, yb)  # mean over the batch",
        "            optimizer.zero_grad()  # gradients add up across backward calls",
        "            loss.backward()  # d(loss)/d(each parameter) into .grad",
        "            optimizer.step()  # p <- p - lr * update(p.grad)",
    ]
    if when == "per_update":
        lines.append("            scheduler.step()  # this schedule moves every update")
    lines += [
        "            total += loss.item() * len(yb)  # a short last batch counts for its size",
        "            count += len(yb)",
        "        train_loss = total / count",
        "        model.eval()",
        "        with torch.no_grad():",
        "            test_loss = objective(model(X_test), y_test).item()",
    ]
    if when == "per_epoch":
        lines.append("        scheduler.step()")
    elif when == "plateau":
        lines.append("        scheduler.step(test_loss)")
    lines += [
        "        if epoch % report_every == 0 or epoch == EPOCHS:",
        '            print(f"epoch {epoch}/{EPOCHS}: train loss {train_loss:.4f}, "',
        '                  f"test loss {test_loss:.4f}")',
        "    model.eval()",
        "    with torch.no_grad():",
        "        final = {",
        '            "epochs": EPOCHS,',
        '            "train_loss": train_loss,  # mean over the last epoch\'s batches',
        '            "test_loss": test_loss,',
        '            "train_data_loss": loss_fn(model(X_train)' + squeeze + ", y_train).item(),",
        '            "test_data_loss": loss_fn(model(X_test)' + squeeze + ", y_test).item(),",
        f'            "train_{metric}": {metric}(model(X_train), y_train),',
        f'            "test_{metric}": {metric}(model(X_test), y_test),',
        "        }",
        "    print(json.dumps(final))",
    ]
    helper = _metric_helper(task)
    return f"{helper}\n\n\n" + "\n".join(lines) + '\n\n\nif __name__ == "__main__":\n    main()'


def _metric_helper(task: str) -> str:
    if task == "regression":
        return '''def r2(logits: torch.Tensor, y: torch.Tensor) -> float:
    """1 - SSE / SST of the predictions."""
    pred, target = logits[:, 0].double(), y.double()
    sst = float(((target - target.mean()) ** 2).sum())
    return 1 - float(((pred - target) ** 2).sum()) / sst if sst > 0 else math.nan'''
    predicted = "(logits[:, 0] > 0).to(y.dtype)" if task == "binary" else "logits.argmax(dim=1)"
    return f'''def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The share of rows whose predicted class is right."""
    return float(({predicted} == y).double().mean())'''
