"""Built-in datasets by name, and ``csv:PATH`` for your own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from looplab.data import bundled, synthetic
from looplab.data.task_data import TaskData
from looplab.errors import DataError, one_of
from looplab.resources import check_memory

# Bytes a synthetic row takes on its way to training (two float64 features and a target as
# generated, their float32 tensors, the split and the standardized copies), with room to spare.
ROW_BYTES = 256


@dataclass(frozen=True)
class DatasetInfo:
    """What ``looplab datasets`` lists about a built-in dataset."""

    name: str
    task: str
    description: str
    default_n: int | None = None  # None: a real dataset with a fixed number of rows
    default_noise: float | None = None


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo("linear", "regression", "y = 3x + 1 + noise, the course's toy", 200, 0.2),
        DatasetInfo("sine", "regression", "y = sin(x) + noise on [-2pi, 2pi]", 300, 0.1),
        DatasetInfo("moons", "binary", "two interleaving half circles", 1000, 0.2),
        DatasetInfo("circles", "binary", "a circle inside a circle", 1000, 0.1),
        DatasetInfo("xor", "binary", "label = sign(x1 * x2)", 1000, 0.05),
        DatasetInfo("spiral", "multiclass", "three spiral arms", 900, 0.2),
        DatasetInfo("blobs", "multiclass", "four Gaussian clusters", 1000, 1.0),
        DatasetInfo("digits", "multiclass", "8x8 handwritten digits (scikit-learn)"),
        DatasetInfo("iris", "multiclass", "iris flowers, 3 species (scikit-learn)"),
        DatasetInfo("wine", "multiclass", "wines from 3 cultivars (scikit-learn)"),
        DatasetInfo("breast_cancer", "binary", "malignant or benign tumours (scikit-learn)"),
    ]
}


def dataset_names() -> list[str]:
    return list(DATASETS)


def check_dataset(
    name: str, target: str | None = None, n: int | None = None, noise: float | None = None
) -> None:
    """What can be checked of a dataset before reading it: a known name (or ``csv:PATH`` with a
    target), and ``n`` / ``noise`` only for synthetic data. Raises a one-line DataError."""
    if name.startswith("csv:"):
        if not target:
            raise DataError(f"dataset {name!r} needs a target column: add --target COLUMN")
        return
    if name not in DATASETS:
        raise DataError(f"unknown dataset {one_of(name, [*DATASETS, 'csv:PATH'])}")
    if DATASETS[name].default_n is None and (n is not None or noise is not None):
        raise DataError(f"dataset {name!r} is real data: --n and --noise do not apply to it")
    if n is not None:
        check_memory(f"{n:,} rows of {name!r}", n * ROW_BYTES, "use a smaller --n")


def load_dataset(
    name: str,
    *,
    n: int | None = None,
    noise: float | None = None,
    seed: int = 0,
    target: str | None = None,
    drop: list[str] | None = None,
    impute: str = "drop",
    task: str = "auto",
    sep: str | None = None,
) -> TaskData:
    """Load a built-in dataset by name, or a CSV file given as ``csv:PATH`` with a ``target``."""
    check_dataset(name, target, n, noise)
    if name.startswith("csv:"):
        from looplab.data.tabular import read_csv

        assert target is not None  # check_dataset asks for one
        return read_csv(name[4:], target, drop=drop or [], impute=impute, task=task, sep=sep)
    info = DATASETS[name]
    loader = _LOADERS[name]
    if info.default_n is None:
        return loader(0, 0.0, seed)
    rows = n if n is not None else info.default_n
    spread = noise if noise is not None else (info.default_noise or 0.0)
    return loader(rows, spread, seed)


def _real(fn: Callable[[], TaskData]) -> Callable[[int, float, int], TaskData]:
    return lambda n, noise, seed: fn()


_LOADERS: dict[str, Callable[[int, float, int], TaskData]] = {
    "linear": synthetic.linear,
    "sine": synthetic.sine,
    "moons": synthetic.moons,
    "circles": synthetic.circles,
    "xor": synthetic.xor,
    "spiral": synthetic.spiral,
    "blobs": synthetic.blobs,
    "digits": _real(bundled.digits),
    "iris": _real(bundled.iris),
    "wine": _real(bundled.wine),
    "breast_cancer": _real(bundled.breast_cancer),
}
