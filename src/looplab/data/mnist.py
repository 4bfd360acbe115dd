"""MNIST handwritten digits: all 70,000 (downloaded once, or read from a local copy), and the
5,000 shipped with looplab that work offline.

The images keep their shape, ``X`` (rows, 1, 28, 28), with grey levels scaled explicitly from
0-255 to [0, 1] (``encoding["pixel_scale"]``, saved with a run so prediction scales new images
the same way); a CNN reads them as they are and an MLP flattens them to 784 features.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from looplab.data.download import RemoteFile, cache_dir, fetch_all
from looplab.data.idx import read_idx
from looplab.data.task_data import TaskData
from looplab.errors import DataError

URL_ENV = "LOOPLAB_MNIST_URL"  # where MNIST is downloaded from (tests serve it locally)
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist"
PIXEL_SCALE = 255.0  # grey levels are 0..255; the model sees pixel / PIXEL_SCALE

# The four files of the original MNIST distribution, with their published SHA-256 and sizes.
MNIST_FILES: dict[str, RemoteFile] = {
    "train_images": RemoteFile(
        "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        9_912_422,
    ),
    "train_labels": RemoteFile(
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        28_881,
    ),
    "test_images": RemoteFile(
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        1_648_877,
    ),
    "test_labels": RemoteFile(
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        4_542,
    ),
}
SHIPPED_5K = ("mnist-5k-images-idx3-ubyte.gz", "mnist-5k-labels-idx1-ubyte.gz")


def mnist(data_dir: str | None = None) -> TaskData:
    """All 70,000 digits, the 60,000 training images then the 10,000 test images (looplab makes
    its own seeded, stratified splits). From ``data_dir`` if given, else from the cache, which
    is filled by a checked download on first use."""
    if data_dir is not None:
        paths = local_files(Path(data_dir))
    else:
        url = os.environ.get(URL_ENV, MNIST_URL)
        paths = fetch_all(url, MNIST_FILES, cache_dir("mnist"), "MNIST")
    images = np.concatenate([read_idx(paths["train_images"]), read_idx(paths["test_images"])])
    labels = np.concatenate([read_idx(paths["train_labels"]), read_idx(paths["test_labels"])])
    return image_data("mnist", images, labels)


def mnist_5k() -> TaskData:
    """5,000 MNIST digits, 500 per class, shipped inside looplab (see data/files/README.md)."""
    folder = resources.files("looplab.data") / "files"
    images, labels = (read_idx(Path(str(folder / name))) for name in SHIPPED_5K)
    return image_data("mnist-5k", images, labels)


def local_files(folder: Path) -> dict[str, Path]:
    """The four MNIST files in ``folder``, gzipped (``.gz``) or not; a DataError lists the
    missing ones."""
    if not folder.is_dir():
        raise DataError(
            f"--data-dir {str(folder)!r} is not a folder; give the folder of the MNIST files"
        )
    found: dict[str, Path] = {}
    missing = []
    for key, file in MNIST_FILES.items():
        candidates = [folder / file.name, folder / file.name.removesuffix(".gz")]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            missing.append(file.name)
        else:
            found[key] = path
    if missing:
        raise DataError(
            f"--data-dir {str(folder)!r} lacks {', '.join(missing)} (gzipped or not); put the "
            f"four MNIST IDX files there, or leave --data-dir out to download them"
        )
    return found


def image_data(name: str, images: np.ndarray, labels: np.ndarray) -> TaskData:
    """Grey images (rows, H, W) of 0..255 and labels 0..9 as a TaskData (rows, 1, H, W)."""
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"{name}: images must be (count, height, width) and labels (count,), got "
            f"{images.shape} and {labels.shape}; the IDX files do not belong together"
        )
    height, width = images.shape[1:]
    X = torch.from_numpy(images.astype(np.float32) / PIXEL_SCALE).unsqueeze(1)  # (rows, 1, H, W)
    classes = [str(c) for c in range(int(labels.max()) + 1)]
    return TaskData(
        name,
        X,
        torch.from_numpy(labels.astype(np.int64)),
        "multiclass",
        [f"pixel {r},{c}" for r in range(height) for c in range(width)],
        classes,
        encoding={"image_shape": [1, height, width], "pixel_scale": PIXEL_SCALE},
    )
