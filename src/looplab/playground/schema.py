"""What the page builds its controls from: every setting's default, allowed values and limits,
and the datasets, straight from :class:`~looplab.playground.settings.Settings` and the
catalogue, so the page and the server cannot disagree on a choice."""

from __future__ import annotations

from typing import Any

from looplab.config import ACTIVATIONS, INITS, OPTIMIZERS, SCHEDULES
from looplab.playground import datasets as ds
from looplab.playground.catalogue import DATASETS
from looplab.playground.settings import (
    FEATURES,
    MAX_CLASSES,
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_POINTS,
    MAX_WIDTH,
    Settings,
)
from looplab.playground.uploads import MAX_BYTES


def describe() -> dict[str, Any]:
    """Defaults, choices and limits of every setting, and the datasets by problem."""
    fields: dict[str, dict[str, Any]] = {}
    for name, info in Settings.model_fields.items():
        entry: dict[str, Any] = {"default": _plain(info.default)}
        for bound in info.metadata:
            for key in ("ge", "gt", "le", "lt"):
                if getattr(bound, key, None) is not None:
                    entry[key] = getattr(bound, key)
        fields[name] = entry
    fields["activation"]["choices"] = list(ACTIVATIONS)
    fields["init"]["choices"] = list(INITS)
    fields["optimizer"]["choices"] = list(OPTIMIZERS)
    fields["schedule"]["choices"] = list(SCHEDULES)
    fields["features"]["choices"] = list(FEATURES)
    fields["norm"]["choices"] = ["none", "batch", "layer"]
    fields["regularization"]["choices"] = ["none", "L1", "L2"]
    fields["problem"]["choices"] = ["classification", "regression"]
    return {
        "fields": fields,
        "datasets": [
            {"name": k, "label": d.label, "family": d.family, "problem": d.problem}
            for k, d in DATASETS.items()
        ],
        "limits": {
            "points": MAX_POINTS,
            "layers": MAX_LAYERS,
            "width": MAX_WIDTH,
            "epochs": MAX_EPOCHS,
            "classes": MAX_CLASSES,
            "upload_bytes": MAX_BYTES,
        },
    }


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def previews(points: int = 200, noise: float = 0.05) -> dict[str, list[list[float]]]:
    """A small sample of each generated dataset, ``[x1, x2, target]`` on the plane, for the
    page's dataset buttons."""
    out = {}
    for name, info in DATASETS.items():
        if name == "upload":
            continue
        if name == "blobs":
            x, y = ds.blobs(points, noise, 1, 3)
        else:
            assert info.generator is not None
            x, y = info.generator(points, noise, 1)
        if info.scaled:
            x = ds.fit_to_plane(x)
        out[name] = [[round(float(a), 3), round(float(b), 3), float(t)]
                     for (a, b), t in zip(x, y, strict=True)]  # fmt: skip
    return out
