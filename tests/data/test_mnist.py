"""MNIST: the IDX format, the shipped 5,000 digits, a local copy, and the checked download
(served from 127.0.0.1 by a thread of this process: never the internet)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from looplab.data import mnist as mnist_module
from looplab.data.download import RemoteFile, cache_dir, fetch_all
from looplab.data.idx import idx_bytes, parse_idx, read_idx
from looplab.data.registry import check_dataset, load_dataset
from looplab.errors import DataError


def small_mnist(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random 28x28 grey images and labels 0-9, as the MNIST files hold them."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(rows, 28, 28), dtype=np.uint8)
    labels = (np.arange(rows) % 10).astype(np.uint8)
    return images, labels


def write_mnist_files(folder: Path, gz: bool = True) -> dict[str, bytes]:
    """The four MNIST files, small (20 training and 10 test images), in ``folder``."""
    train, test = small_mnist(20, 0), small_mnist(10, 1)
    arrays = {"train_images": train[0], "train_labels": train[1],
              "test_images": test[0], "test_labels": test[1]}  # fmt: skip
    written = {}
    for key, array in arrays.items():
        name = mnist_module.MNIST_FILES[key].name
        data = idx_bytes(array, compress=gz)
        (folder / (name if gz else name.removesuffix(".gz"))).write_bytes(data)
        written[key] = data
    return written


# ---- the IDX format


def test_idx_round_trip_of_each_type() -> None:
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
        for compress in (True, False):
            back = parse_idx(idx_bytes(array, compress))
            assert back.dtype == dtype and back.shape == (2, 3, 4)
            np.testing.assert_array_equal(back, array)


def test_idx_header_is_big_endian_as_the_format_says() -> None:
    raw = idx_bytes(np.zeros((60000, 28, 28), np.uint8)[:3], compress=False)
    # magic 0x00000803 (unsigned byte, 3 dimensions), then 3, 28, 28 as big-endian uint32
    assert raw[:16] == bytes.fromhex("00000803000000030000001c0000001c")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"PK\x03\x04 not idx", "is not an IDX file"),
        (bytes.fromhex("00000803000000"), "header is incomplete"),
        (idx_bytes(np.zeros((4, 2, 2), np.uint8), compress=False)[:-3], "cut short or damaged"),
        (gzip.compress(b"\x00\x00\x08\x01", mtime=0)[:-6], "damaged gzip file"),
    ],
    ids=["zip file", "short header", "short body", "cut gzip"],
)
def test_damaged_idx_files_say_what_is_wrong(raw: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_idx(raw, "f.gz")


# ---- mnist-5k, shipped


def test_mnist_5k_is_500_real_digits_per_class_scaled_to_unit_range() -> None:
    data = load_dataset("mnist-5k")
    assert data.X.shape == (5000, 1, 28, 28) and data.image_shape == (1, 28, 28)
    assert data.class_names == [str(d) for d in range(10)]
    assert torch.bincount(data.y).tolist() == [500] * 10
    assert float(data.X.min()) == 0.0 and float(data.X.max()) == 1.0
    # grey levels k / 255, as the encoding saved with a run says
    assert data.encoding == {"image_shape": [1, 28, 28], "pixel_scale": 255.0}
    levels = data.X * 255
    assert torch.equal(levels, levels.round())
    # real digits, not noise: ink in the centre, a nearly blank border, MNIST's mean grey level
    assert float(data.X[..., :2, :].mean()) < 0.002 < 0.3 < float(data.X[..., 12:16, 12:16].mean())
    assert 0.12 < float(data.X.mean()) < 0.14  # MNIST's mean pixel is 0.1307


def test_mnist_5k_files_are_the_ones_named_in_the_license_note() -> None:
    folder = Path(mnist_module.__file__).parent / "files"
    note = (folder / "README.md").read_text()
    for name in mnist_module.SHIPPED_5K:
        assert name in note and (folder / name).exists()
    assert "CC BY-SA 3.0" in note and "LeCun" in note


def test_images_are_standardized_per_channel_with_training_statistics() -> None:
    from looplab.config import Config
    from looplab.data.prepared import prepare

    data = load_dataset("mnist-5k")
    prepared = prepare(data, Config(dataset="mnist-5k", val_fraction=0.2))
    train = prepared.train
    assert prepared.preprocessor is not None
    assert prepared.preprocessor.mean.shape == (1, 1, 1)  # one number per channel
    assert train.X.shape[1:] == (1, 28, 28)  # type: ignore[union-attr]
    assert abs(float(train.X.mean())) < 1e-5  # type: ignore[union-attr]
    assert abs(float(train.X.std(unbiased=False)) - 1) < 1e-4  # type: ignore[union-attr]


# ---- mnist from a local copy


def test_mnist_reads_a_local_copy_gzipped_or_not(tmp_path: Path) -> None:
    for gz in (True, False):
        folder = tmp_path / f"gz-{gz}"
        folder.mkdir()
        written = write_mnist_files(folder, gz)
        data = load_dataset("mnist", data_dir=str(folder))
        assert data.X.shape == (30, 1, 28, 28)
        train_images = parse_idx(written["train_images"])
        expected = torch.from_numpy(train_images.astype(np.float32) / 255)
        assert torch.equal(data.X[:20, 0], expected)  # the training images first, then the test
        assert data.y.tolist() == [*range(10), *range(10), *range(10)]


def test_a_local_copy_missing_files_names_them(tmp_path: Path) -> None:
    write_mnist_files(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"lacks t10k-labels-idx1-ubyte\.gz"):
        load_dataset("mnist", data_dir=str(tmp_path))
    with pytest.raises(DataError, match="is not a folder"):
        load_dataset("mnist", data_dir=str(tmp_path / "nope"))


def test_data_dir_is_refused_for_other_datasets() -> None:
    with pytest.raises(DataError, match=r"--data-dir applies only to mnist"):
        check_dataset("moons", data_dir="somewhere")


# ---- the download, from a local server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving ``tmp_path/served``: (its URL, that folder)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def checked_table(written: dict[str, bytes]) -> dict[str, RemoteFile]:
    """MNIST's file table, with the checksums and sizes of the files the test made."""
    return {
        key: RemoteFile(file.name, hashlib.sha256(written[key]).hexdigest(), len(written[key]))
        for key, file in mnist_module.MNIST_FILES.items()
    }


def test_mnist_downloads_once_into_the_cache_then_works_offline(
    served: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root = served
    written = write_mnist_files(root)
    monkeypatch.setattr(mnist_module, "MNIST_FILES", checked_table(written))
    monkeypatch.setenv("LOOPLAB_MNIST_URL", url)
    data = load_dataset("mnist")
    cache = cache_dir("mnist")
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        f.name for f in mnist_module.MNIST_FILES.values()
    )  # the four files, no temporary one left
    for key, file in mnist_module.MNIST_FILES.items():
        assert (cache / file.name).read_bytes() == written[key]
    for served_file in root.iterdir():
        served_file.unlink()  # the server has nothing now: the cache must be enough
    again = load_dataset("mnist")
    assert torch.equal(again.X, data.X) and torch.equal(again.y, data.y)


def test_a_download_with_a_wrong_checksum_keeps_nothing(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served
    written = write_mnist_files(root)
    table = checked_table(written)
    label = table["train_labels"]
    table["train_labels"] = RemoteFile(label.name, "0" * 64, label.size)  # as if tampered with
    into = tmp_path / "cache"
    with pytest.raises(DataError, match=r"SHA-256 is .* not the expected 000000000000"):
        fetch_all(url, table, into, "MNIST")
    kept = sorted(p.name for p in into.iterdir())
    assert "train-labels-idx1-ubyte.gz" not in kept
    assert not [name for name in kept if name.endswith(".part")]
    # the files fetched before the bad one are whole and checked: they are kept
    assert kept == ["train-images-idx3-ubyte.gz"]
    assert read_idx(into / kept[0]).shape == (20, 28, 28)


def test_a_failed_download_keeps_nothing_and_says_what_to_do(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served
    written = write_mnist_files(root)
    (root / "t10k-images-idx3-ubyte.gz").unlink()  # the server answers 404
    into = tmp_path / "cache"
    with pytest.raises(DataError, match=r"cannot download .*t10k-images.*--data-dir"):
        fetch_all(url, checked_table(written), into, "MNIST")
    assert "t10k-images-idx3-ubyte.gz" not in [p.name for p in into.iterdir()]
    assert not [p for p in into.iterdir() if p.name.startswith(".")]


def test_no_server_is_one_line_with_the_fix() -> None:
    # the test set-up points the download at 127.0.0.1:9, where nothing listens
    with pytest.raises(DataError, match=r"cannot download .*check the connection.*--data-dir"):
        load_dataset("mnist")
    assert not any(cache_dir("mnist").iterdir())
