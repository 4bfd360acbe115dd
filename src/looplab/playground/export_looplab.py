""" "Export as looplab": the ``looplab train`` command line and TOML config of a playground run,
and the settings that have no flag there, said plainly.

looplab's own 2-D datasets are named (``--dataset moons --n 500 --noise 0.2``). Any other data
(TensorFlow Playground's sets, your CSV, extra input features, blobs with other than 4
classes) goes through a CSV of the run's inputs and targets that the page downloads
(``/api/sessions/{id}/data.csv``), read with ``--dataset csv:FILE --target label``.
"""

from __future__ import annotations

import io
import shlex
from dataclasses import dataclass, field

import numpy as np
import tomli_w

from looplab.config import Config
from looplab.playground.catalogue import DATASETS, PlaneData
from looplab.playground.datasets import input_features
from looplab.playground.settings import Settings

TARGET = "label"
# Flags the command always spells out, even at looplab's default: what the run is.
ALWAYS = ("dataset", "hidden", "activation", "optimizer", "lr", "epochs", "batch_size", "seed")


@dataclass
class LooplabExport:
    """The command, its TOML config, whether it reads the data CSV (and its name), and the
    settings that looplab's CLI cannot express."""

    command: str
    toml: str
    csv_name: str | None
    unsupported: list[str] = field(default_factory=list)


def csv_name(s: Settings) -> str:
    return f"playground_{s.dataset}_seed{s.seed}.csv"


def uses_csv(s: Settings) -> bool:
    """Whether the run's data must go through a CSV (looplab has no flag that draws it)."""
    looplab_name = DATASETS[s.dataset].looplab
    plain_features = tuple(s.features) == ("x1", "x2")
    return looplab_name is None or not plain_features or (s.dataset == "blobs" and s.classes != 4)


def data_csv(s: Settings, data: PlaneData) -> str:
    """Every row of the run's data (train and test) as the network sees it: one column per
    input feature, then the target (class index or value)."""
    features = input_features(data.points, list(s.features))  # (n, features)
    out = io.StringIO()
    out.write(",".join([*s.features, TARGET]) + "\n")
    for row, target in zip(features, data.y, strict=True):
        cells = [repr(float(v)) for v in row]
        cells.append(repr(float(target)) if data.task == "regression" else str(int(target)))
        out.write(",".join(cells) + "\n")
    return out.getvalue()


def export_looplab(s: Settings, task: str) -> LooplabExport:
    """The ``looplab train`` run closest to ``s``, and what it leaves out."""
    unsupported: list[str] = []
    info = DATASETS[s.dataset]
    values: dict[str, object] = {}
    csv = uses_csv(s)
    if csv:
        values |= {"dataset": f"csv:{csv_name(s)}", "target": TARGET, "task": task}
        unsupported.append(
            f"data: looplab draws no {info.label} data with these settings, so the command reads "
            f"{csv_name(s)} (download it beside the command): the playground's points, input "
            f"features ({', '.join(s.features)}) and targets"
        )
    else:
        values |= {"dataset": info.looplab, "n": s.n}
        noise = 0.5 + 2 * s.noise if s.dataset == "blobs" else s.noise
        values["noise"] = float(np.round(noise, 6))
        unsupported.append(
            f"coordinates: looplab trains on {info.looplab} as drawn; the playground scales the "
            "points into [-5, 5]^2 (the same problem, other numbers)"
        )
    values |= {
        "val_fraction": round(1 - s.train_percent / 100, 6),
        "test_fraction": 0.0,
        "standardize": False,
        "model": "mlp" if s.hidden else "linear",
        "hidden": list(s.hidden),
        "activation": s.activation,
        "dropout": s.dropout,
        "norm": s.norm,
        "residual": s.residual,
        "init": s.init,
        "init_scale": s.init_scale,
        "optimizer": s.optimizer,
        "lr": s.lr,
        "momentum": s.momentum,
        "weight_decay": s.weight_decay,
        "schedule": s.schedule,
        "warmup": s.warmup,
        "epochs": s.epochs,
        "batch_size": s.batch_size,
        "seed": s.seed,
        "monitor": True,
    }
    unsupported.append(
        "split: looplab's validation set plays the playground's test set, but looplab draws it "
        "with its own (stratified) split, so other rows land in it"
    )
    if s.regularization != "none" and s.reg_rate > 0:
        hint = (
            f"; --weight-decay {s.reg_rate:g} is the same pull for plain SGD, but also on biases"
            if s.regularization == "L2"
            else ""
        )
        unsupported.append(
            f"regularization: looplab train has no {s.regularization} penalty flag "
            f"(rate {s.reg_rate:g}){hint}"
        )
    if not s.hidden:
        values.pop("hidden")
    defaults = Config().to_dict()
    values = {k: v for k, v in values.items() if k in ALWAYS or v != defaults.get(k)}
    config = Config(**values).validate()  # type: ignore[arg-type]
    toml = tomli_w.dumps({k: v for k, v in config.to_dict().items() if k in values})
    flags = ["looplab", "train"]
    for key, value in values.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, list):
            flags += [flag, ",".join(str(v) for v in value)]
        else:
            flags += [flag, str(value)]
    return LooplabExport(shlex.join(flags), toml, csv_name(s) if csv else None, unsupported)
