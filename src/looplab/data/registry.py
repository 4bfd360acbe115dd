"""Built-in datasets by name, and ``csv:PATH`` for your own.

The table below says what each dataset is without loading it (``looplab datasets`` imports
neither torch nor scikit-learn); ``tests/data/test_datasets.py`` checks it against the loaded
data. A loader module is imported only when its dataset is loaded.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from looplab.errors import DataError, one_of
from looplab.resources import check_memory

# Bytes a synthetic row takes on its way to training (two float64 features and a target as
# generated, their float32 tensors, the split and the standardized copies), with room to spare.
ROW_BYTES = 256

if TYPE_CHECKING:
    from looplab.data.task_data import TaskData


@dataclass(frozen=True)
class DatasetInfo:
    """What ``looplab datasets`` lists about a built-in dataset: its shape at the default
    ``n`` (``classes`` is 0 for regression)."""

    name: str
    task: str
    rows: int
    features: int
    classes: int
    description: str
    default_n: int | None = None  # None: a real dataset with a fixed number of rows
    default_noise: float | None = None


_ABOUT = [
    ("linear", "regression", 200, 1, 0, "y = 3x + 1 + noise, the course's toy", 200, 0.2),
    ("sine", "regression", 300, 1, 0, "y = sin(x) + noise on [-2pi, 2pi]", 300, 0.1),
    ("moons", "binary", 1000, 2, 2, "two interleaving half circles", 1000, 0.2),
    ("circles", "binary", 1000, 2, 2, "a circle inside a circle", 1000, 0.1),
    ("xor", "binary", 1000, 2, 2, "label = sign(x1 * x2)", 1000, 0.05),
    ("spiral", "multiclass", 900, 2, 3, "three spiral arms", 900, 0.2),
    ("blobs", "multiclass", 1000, 2, 4, "four Gaussian clusters", 1000, 1.0),
    ("digits", "multiclass", 1797, 64, 10, "8x8 handwritten digits (scikit-learn)", None, None),
    ("iris", "multiclass", 150, 4, 3, "iris flowers, 3 species (scikit-learn)", None, None),
    ("wine", "multiclass", 178, 13, 3, "wines from 3 cultivars (scikit-learn)", None, None),
    ("breast_cancer", "binary", 569, 30, 2, "malignant or benign tumours (scikit-learn)", None,
     None),
    ("mnist-5k", "multiclass", 5000, 784, 10, "5,000 28x28 MNIST digits, shipped: works offline",
     None, None),
    ("mnist", "multiclass", 70000, 784, 10, "all 70,000 MNIST digits: --data-dir, or downloaded",
     None, None),
]  # fmt: skip
DATASETS: dict[str, DatasetInfo] = {row[0]: DatasetInfo(*row) for row in _ABOUT}


def dataset_names() -> list[str]:
    return list(DATASETS)


def check_dataset(
    name: str,
    target: str | None = None,
    n: int | None = None,
    noise: float | None = None,
    data_dir: str | None = None,
) -> None:
    """What can be checked of a dataset before reading it: a known name (or ``csv:PATH`` with a
    target), ``n`` / ``noise`` only for synthetic data, ``data_dir`` only for a dataset read
    from files (mnist). Raises a one-line DataError."""
    if data_dir is not None and name not in FROM_FILES:
        raise DataError(
            f"--data-dir applies only to {', '.join(FROM_FILES)}, not to {name!r}; leave it out"
        )
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
    data_dir: str | None = None,
) -> TaskData:
    """Load a built-in dataset by name, or a CSV file given as ``csv:PATH`` with a ``target``;
    ``data_dir`` is the folder of a local copy of a dataset read from files (mnist)."""
    check_dataset(name, target, n, noise, data_dir)
    if name in FROM_FILES:
        module, function = FROM_FILES[name].split(".")
        read: TaskData = getattr(importlib.import_module(f"looplab.data.{module}"), function)(
            data_dir
        )
        return read
    if name.startswith("csv:"):
        from looplab.data.tabular import read_csv

        assert target is not None  # check_dataset asks for one
        return read_csv(name[4:], target, drop=drop or [], impute=impute, task=task, sep=sep)
    info = DATASETS[name]
    module, function = _LOADERS[name].split(".")
    loader = getattr(importlib.import_module(f"looplab.data.{module}"), function)
    if info.default_n is None:  # real data: its fixed rows
        data: TaskData = loader()
        return data
    rows = n if n is not None else info.default_n
    spread = noise if noise is not None else (info.default_noise or 0.0)
    data = loader(rows, spread, seed)
    return data


# name -> its loader in looplab.data: synthetic ones take (n, noise, seed), real ones nothing
_LOADERS: dict[str, str] = {
    "linear": "synthetic.linear",
    "sine": "synthetic.sine",
    "moons": "synthetic.moons",
    "circles": "synthetic.circles",
    "xor": "synthetic.xor",
    "spiral": "synthetic.spiral",
    "blobs": "synthetic.blobs",
    "digits": "bundled.digits",
    "mnist-5k": "mnist.mnist_5k",
    "iris": "bundled.iris",
    "wine": "bundled.wine",
    "breast_cancer": "bundled.breast_cancer",
}

# Datasets read from files (a local copy given with --data-dir, else downloaded once): their
# loaders take the folder (or None).
FROM_FILES: dict[str, str] = {"mnist": "mnist.mnist"}
# Datasets of images (rows, 1, 28, 28): the CNN, augmentation and the image report apply.
IMAGE_DATASETS = ("mnist-5k", "mnist")
