"""The data and the model a run is given, checked once before the first epoch.

The CLI builds both itself; a Python user hands them to ``looplab.fit`` directly, where a NaN
feature, a (rows, 1) target or a label past the last class would otherwise train silently or
stop in a torch error. Each check is one pass over the in-memory tensors (nothing per step:
the loop's kernel stays as it is), and each mistake is a one-line :class:`DataError` or
:class:`ShapeError`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from looplab.config import FLOAT32_MAX
from looplab.data.prepared import PreparedData
from looplab.data.split import Split
from looplab.errors import DataError, ShapeError, listing


def check_data(data: PreparedData) -> None:
    """Every in-memory split: X (rows, features) of finite floats, y (rows,) of the task's
    kind (class indices below the number of classes, 0/1 for binary, finite numbers for
    regression). Streamed datasets are the user's own and are not read here."""
    for name, split in (("training", data.train), ("validation", data.val), ("test", data.test)):
        if isinstance(split, Split):
            _check_split(name, split, data)


def _check_split(name: str, split: Split, data: PreparedData) -> None:
    X, y = split.X, split.y
    if not isinstance(X, Tensor) or not isinstance(y, Tensor):
        raise DataError(f"the {name} split's X and y must be torch tensors")
    images = data.image_shape
    if images and tuple(X.shape[1:]) != images:
        raise ShapeError(
            f"the {name} images X must be (rows, {', '.join(map(str, images))}), got shape "
            f"{tuple(X.shape)}"
        )
    if not images and X.ndim != 2:
        raise ShapeError(
            f"the {name} features X must be (rows, features), got shape {tuple(X.shape)}; "
            "reshape it, e.g. X.reshape(len(X), -1)"
        )
    if y.ndim != 1:
        hint = "y.squeeze(1)" if y.ndim == 2 and y.shape[1] == 1 else "y.reshape(-1)"
        raise ShapeError(
            f"the {name} targets y must be (rows,), got shape {tuple(y.shape)}; use {hint}"
        )
    if len(X) != len(y):
        raise ShapeError(f"the {name} split has {len(X)} rows of X but {len(y)} targets")
    if not X.is_floating_point():
        raise DataError(
            f"the {name} features X are {X.dtype}; the model needs floats: use X.float()"
        )
    if not images and X.shape[1] != data.n_features and data.feature_names:
        raise ShapeError(
            f"the {name} features X have {X.shape[1]} columns but the data names "
            f"{data.n_features} features"
        )
    _check_values(f"the {name} features X", X, columns=data.feature_names)
    _check_targets(name, y, data)


def _check_values(what: str, values: Tensor, columns: list[str] | None = None) -> None:
    """Finite, and within float32 (a float64 value past 3.4e38 becomes inf when trained)."""
    v = values.detach()
    if v.numel() == 0:
        return
    low, high = torch.aminmax(v)  # one pass, no copy; a NaN anywhere makes both NaN
    if float(low) >= -FLOAT32_MAX and float(high) <= FLOAT32_MAX:
        return  # (20,000 x 64 floats: 0.2 ms, where the mask below takes 5.6 ms)
    bad = ~torch.isfinite(v) | (v.abs() > FLOAT32_MAX)
    rows = torch.nonzero(bad.reshape(len(v), -1).any(dim=1)).flatten().tolist()
    first = v[bad][0].item()
    kind = "NaN" if first != first else ("inf" if abs(first) == float("inf") else f"{first:g}")
    where = ""
    if columns and v.ndim == 2:
        cols = torch.nonzero(bad.any(dim=0)).flatten().tolist()
        where = f" in column(s) {listing([columns[c] for c in cols if c < len(columns)], 5)}"
    raise DataError(
        f"{what} hold non-finite or beyond-float32 values ({kind}){where}, in "
        f"{len(rows):,} row(s): {listing([r + 1 for r in rows], 5)}; remove or fix those rows"
    )


def _check_targets(name: str, y: Tensor, data: PreparedData) -> None:
    what = f"the {name} targets y"
    if data.task == "multiclass":
        if y.is_floating_point() or y.dtype == torch.bool:
            raise DataError(
                f"{what} are {y.dtype}; multiclass labels are class indices: use y.long()"
            )
        classes = data.n_outputs
        low, high = (int(y.min()), int(y.max())) if len(y) else (0, 0)
        if classes == 0:
            raise DataError(
                f"the data has no class_names: a multiclass task needs one name per class (the "
                f"labels here go up to {high}); give PreparedData(..., class_names=[...])"
            )
        if len(y) and (low < 0 or high >= classes):
            raise DataError(
                f"{what} hold class {low if low < 0 else high}, but there are {classes} classes "
                f"(0 to {classes - 1}); give class_names for every class, or fix the labels"
            )
        return
    if not y.is_floating_point():
        raise DataError(f"{what} are {y.dtype}; a {data.task} target is a float: use y.float()")
    _check_values(what, y)
    if data.task == "binary" and len(y) and not bool(((y == 0) | (y == 1)).all()):
        other = y[(y != 0) & (y != 1)][0].item()
        raise DataError(
            f"{what} must be 0 or 1 for a binary task, got {other:g}; "
            "use task 'regression' for numbers, or 'multiclass' for more classes"
        )


def check_model_fits(model: nn.Module, data: PreparedData) -> None:
    """The model's first layer takes the data's features and its last gives the task's
    outputs (one logit per class for multiclass, else one)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        return
    convolved = any(isinstance(m, nn.Conv2d) for m in model.modules())  # fc1 takes the maps
    if data.feature_names and not convolved and linears[0].in_features != data.n_features:
        raise ShapeError(
            f"the model takes {linears[0].in_features} features per row but the data has "
            f"{data.n_features}; build it with ModelSpec(in_features={data.n_features}, ...)"
        )
    outputs, wanted = linears[-1].out_features, data.n_outputs
    if outputs != wanted:
        what = f"{wanted} classes" if data.task == "multiclass" else f"a {data.task} task"
        raise ShapeError(
            f"the model gives {outputs} outputs per row but {what} needs {wanted}; "
            f"build it with ModelSpec(out_features={wanted}, ...)"
        )
