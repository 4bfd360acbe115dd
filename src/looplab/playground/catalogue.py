"""Which datasets the playground offers, and a run's data: points on the plane, the input
features computed from them, and the train/test split, as tensors for the loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from looplab.playground import datasets as ds
from looplab.playground.settings import Settings
from looplab.playground.uploads import UploadStore
from looplab.task import Task

Generator = Callable[[int, float, int], ds.Points]


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset of the page: its label, problem (None: your CSV decides), generator, whether
    it is scaled into the plane, and the ``looplab train --dataset`` name that draws it."""

    label: str
    family: str
    problem: str | None
    generator: Generator | None
    scaled: bool = False
    looplab: str | None = None  # the looplab registry name, for "Export as looplab"


TF, LL = "TensorFlow Playground", "looplab"
DATASETS: dict[str, DatasetInfo] = {
    "circle": DatasetInfo("circle", TF, "classification", ds.circle),
    "xor": DatasetInfo("exclusive or", TF, "classification", ds.xor),
    "gauss": DatasetInfo("two Gaussians", TF, "classification", ds.gauss),
    "spiral": DatasetInfo("spiral", TF, "classification", ds.spiral),
    "plane": DatasetInfo("plane", TF, "regression", ds.plane),
    "multigauss": DatasetInfo("six Gaussians", TF, "regression", ds.multigauss),
    "moons": DatasetInfo("moons", LL, "classification", ds.moons, True, "moons"),
    "circles": DatasetInfo("circles", LL, "classification", ds.circles, True, "circles"),
    "xor_jitter": DatasetInfo("xor, jittered", LL, "classification", ds.xor_jitter, True, "xor"),
    "spiral3": DatasetInfo("spiral, 3 arms", LL, "classification", ds.spiral3, True, "spiral"),
    "blobs": DatasetInfo("blobs", LL, "classification", None, True, "blobs"),
    "upload": DatasetInfo("your CSV", "upload", None, None, True),
}


@dataclass
class PlaneData:
    """A run's data: ``points`` (n, 2) on the plane with targets ``y`` (n,), the input features
    of the train and test rows as float32 tensors, and the task they pose."""

    points: np.ndarray  # (n, 2) float64, in [-6, 6]^2
    y: np.ndarray  # (n,) int64 classes or float64 targets
    task: Task
    class_names: list[str]
    train: np.ndarray  # row indices
    test: np.ndarray
    X_train: Tensor  # (train rows, features) float32
    y_train: Tensor  # (train rows,) float32 (binary, regression) or int64 (multiclass)
    X_test: Tensor
    y_test: Tensor

    @property
    def outputs(self) -> int:
        """The network's output width: one logit per class, or one."""
        return len(self.class_names) if self.task == "multiclass" else 1

    @property
    def value_scale(self) -> float:
        """Largest absolute regression target (the colour scale of the surface), else 1."""
        return max(float(np.abs(self.y).max()), 1e-6) if self.task == "regression" else 1.0


def raw_points(
    settings: Settings, uploads: UploadStore
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The dataset's points before scaling, its targets and its class names."""
    s = settings
    if s.dataset == "upload":
        return uploads.get(s.upload).points(s.problem)
    if s.dataset == "blobs":
        x, y = ds.blobs(s.n, s.noise, s.seed, s.classes)
    else:
        generator = DATASETS[s.dataset].generator
        assert generator is not None
        x, y = generator(s.n, s.noise, s.seed)
    if s.problem == "regression":
        return x, y.astype(np.float64), []
    count = int(y.max()) + 1
    return x, y, [f"class {c}" for c in range(count)]


def task_of(problem: str, classes: int) -> Task:
    if problem == "regression":
        return "regression"
    return "binary" if classes == 2 else "multiclass"


def load(settings: Settings, uploads: UploadStore) -> PlaneData:
    """The run's data, from its settings (and the upload store, for your own CSV)."""
    x, y, names = raw_points(settings, uploads)
    if DATASETS[settings.dataset].scaled:
        x = ds.fit_to_plane(x)
    task = task_of(settings.problem, len(names))
    features = ds.input_features(x, list(settings.features))  # (n, features) float64
    train, test = ds.train_test_split(len(x), settings.train_percent, settings.seed)
    target_type = torch.int64 if task == "multiclass" else torch.float32

    def tensors(rows: np.ndarray) -> tuple[Tensor, Tensor]:
        X = torch.tensor(features[rows], dtype=torch.float32)
        return X, torch.tensor(y[rows], dtype=target_type)

    X_train, y_train = tensors(train)
    X_test, y_test = tensors(test)
    return PlaneData(x, y, task, names, train, test, X_train, y_train, X_test, y_test)
