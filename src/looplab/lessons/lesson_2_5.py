"""Lesson 2.5: mini-batching and data pipelines: batch sizes compared, a Dataset of images and
its DataLoader, short last batches, and what DataLoader costs next to slicing."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset

from looplab.config import Config
from looplab.data.batches import Batches
from looplab.data.registry import load_dataset
from looplab.experiments.compare import compare_batch_sizes
from looplab.lessons.exercise import Args, Case, Exercise, Mistake, Outputs
from looplab.lessons.lesson import Demo, DemoResult, Lesson
from looplab.plots.compare import compare_figure
from looplab.plots.style import DPI, save

# ---------------------------------------------------------------- demos


def batch_sizes_compared(fast: bool = False, out: Path = Path("lessons/2.5")) -> DemoResult:
    """One MLP on moons trained with batch 1, 16 and the full batch (Adam lr 0.01), from the
    same initial weights and the same epochs: many small noisy steps against few exact ones."""
    config = Config(
        dataset="moons",
        n=200 if fast else 400,
        hidden=[16, 16],
        optimizer="adam",
        lr=0.01,
        epochs=3 if fast else 10,
        device="cpu",
    )
    comparison = compare_batch_sizes(config, [1, 16, "full"])
    out.mkdir(parents=True, exist_ok=True)
    save(compare_figure(comparison), str(out / "batch_sizes.png"))

    result = DemoResult(figures=[out / "batch_sizes.png"])
    for row in comparison.summary():
        size, updates = row["batch_size"], int(row["updates_per_epoch"])
        result.add(
            f"final loss, batch {size}",
            float(row["final_loss"]),
            f"whole training split after {config.epochs} epochs of {updates} update(s) each; "
            f"{float(row['seconds']) / config.epochs:.2g} s per epoch here (wall clock)",
        )
    return result


def a_dataset_of_images(
    fast: bool = False, out: Path = Path("lessons/2.5"), dataset: str = "digits"
) -> DemoResult:
    """A pipeline for real images: a ``Dataset`` whose ``__getitem__`` turns one row into a
    (1, side, side) image and its label, a shuffling ``DataLoader`` that stacks 16 of them into
    a batch, and the batch drawn with its labels. Then the batch counts with and without
    ``drop_last``."""
    data = load_dataset(dataset)  # X (rows, side * side) grey levels, y (rows,) labels
    side = math.isqrt(data.n_features)
    assert side * side == data.n_features, f"{dataset} rows are not square images"

    class Images(Dataset[tuple[Tensor, Tensor]]):
        """Rows of pixels as images: item i is (image (1, side, side), label ())."""

        def __init__(self, X: Tensor, y: Tensor) -> None:
            self.X = X / X.max()  # grey levels scaled to [0, 1]
            self.y = y

        def __len__(self) -> int:
            return len(self.X)

        def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
            return self.X[i].reshape(1, side, side), self.y[i]

    images = Images(data.X, data.y)
    loader = DataLoader(
        images, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    batch_x, batch_y = next(iter(loader))  # (16, 1, side, side), (16,): collated by DataLoader

    fig, axes = plt.subplots(2, 8, figsize=(10, 3.2), dpi=DPI, layout="constrained")
    for ax, image, label in zip(axes.flat, batch_x, batch_y, strict=True):
        ax.imshow(image[0].numpy(), cmap="gray_r")
        ax.set_title(data.class_names[int(label)], fontsize=10)
        ax.axis("off")
    fig.suptitle(f"one shuffled batch of 16 {dataset} images {tuple(batch_x.shape)}, with labels")
    out.mkdir(parents=True, exist_ok=True)
    save(fig, str(out / "one_batch.png"))

    size = 64
    with_short = DataLoader(images, batch_size=size)
    dropped = DataLoader(images, batch_size=size, drop_last=True)
    sizes = [len(labels) for _, labels in with_short]
    result = DemoResult(figures=[out / "one_batch.png"])
    result.add("images", len(images), f"len(dataset): {dataset}, each {side} x {side} pixels")
    result.add(
        "batches of 64",
        len(with_short),
        f"ceil({len(images)} / {size}); the last batch has {sizes[-1]} images",
    )
    result.add(
        "batches of 64, drop_last",
        len(dropped),
        f"floor({len(images)} / {size}): the short batch is dropped, "
        f"{len(images) - len(dropped) * size} images are not seen that epoch",
    )
    result.add(
        "rows seen in one epoch",
        sum(sizes),
        "without drop_last every image is in exactly one batch",
    )
    return result


def dataloader_vs_slicing(
    fast: bool = False, out: Path = Path("lessons/2.5"), dataset: str = "digits"
) -> DemoResult:
    """The same shuffled epochs of in-memory tensors two ways, timed side by side: a
    ``DataLoader(TensorDataset)`` fetches each row with ``__getitem__`` and stacks them;
    ``looplab.data.batches.Batches`` gathers the epoch once and slices views of it."""
    data = load_dataset(dataset)
    X, y = data.X, data.y  # (rows, features), (rows,)
    size, repeats = 32, 3 if fast else 7

    loader = DataLoader(TensorDataset(X, y), batch_size=size, shuffle=True,
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    slicer = Batches(X, y, size, generator=torch.Generator().manual_seed(0))

    def best_epoch_seconds(epoch: Callable[[], Iterable[tuple[Tensor, Tensor]]]) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            rows = sum(len(yb) for _, yb in epoch())
            times.append(time.perf_counter() - start)
            assert rows == len(X)
        return min(times)  # the least disturbed run on a busy machine

    loader_s, slicing_s = [], []
    for _ in range(2):  # alternate, so both see the same load
        loader_s.append(best_epoch_seconds(lambda: loader))
        slicing_s.append(best_epoch_seconds(slicer.epoch))

    result = DemoResult()
    batches = math.ceil(len(X) / size)
    result.add(
        "DataLoader, ms per epoch",
        1000 * min(loader_s),
        f"{batches} batches of {size} from {len(X)} rows: {len(X)} __getitem__ calls, then "
        "default_collate stacks each batch",
    )
    result.add(
        "slicing, ms per epoch",
        1000 * min(slicing_s),
        "one randperm and one index_select per epoch, then views",
    )
    result.add(
        "DataLoader / slicing",
        min(loader_s) / min(slicing_s),
        "how many times longer DataLoader takes for the same batches (best of "
        f"{2 * repeats} epochs each, measured side by side)",
    )
    return result


# ---------------------------------------------------------------- exercise 2.5.1: a Dataset


def window_dataset(series: Tensor, window: int) -> Dataset[tuple[Tensor, Tensor]]:
    """A Dataset of a time series' windows: item i is (series[i : i + window], series[i + window]).

    series is (T,), window a whole number in [1, T). Define a class with ``__len__`` (the
    number of windows that have a next value after them: T - window) and ``__getitem__(i)``
    (the window, shape (window,), and the value after it, a scalar tensor), and return an
    instance of it. A DataLoader can then batch it into (batch, window) and (batch,).

    >>> ds = window_dataset(torch.arange(5.0), 3)
    >>> len(ds), ds[1]
    (2, (tensor([1., 2., 3.]), tensor(4.)))
    """

    class Windows(Dataset[tuple[Tensor, Tensor]]):
        def __len__(self) -> int:
            return len(series) - window

        def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
            return series[i : i + window], series[i + window]

    return Windows()


def _series_cases() -> list[Case]:
    def make(length: int, window: int, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            return torch.randn(length, generator=g).cumsum(0), window  # a random walk

        return Case(f"T={length}, window {window}", args)

    return [make(10, 3, 0), make(50, 8, 1), make(5, 4, 2), make(30, 1, 3)]


def _observe_windows(fn: object, args: Args) -> Outputs:
    """len(dataset), every item stacked, and the same items batched by a DataLoader."""
    dataset = fn(*args)  # type: ignore[operator]
    n = len(dataset)
    items = [dataset[i] for i in range(n)]
    batched = list(DataLoader(dataset, batch_size=4))  # default_collate stacks the items
    empty = torch.zeros(0)
    return {
        "len": torch.tensor(n),
        "windows": torch.stack([torch.as_tensor(w) for w, _ in items]) if items else empty,
        "next values": torch.stack([torch.as_tensor(v) for _, v in items]) if items else empty,
        "DataLoader windows": torch.cat([w for w, _ in batched]) if batched else empty,
    }


def _unfold(series: Tensor, window: int, shift: int = 0, drop: int = 0) -> Outputs:
    """Windows by Tensor.unfold; ``shift=-1`` takes the window's own last value as the target,
    ``drop=1`` leaves out the last window (known mistakes)."""
    windows = series.unfold(0, window, 1)[:-1]  # (T - window, window)
    targets = series[window + shift : len(series) + shift]
    keep = len(windows) - drop
    return {
        "len": torch.tensor(keep),
        "windows": windows[:keep],
        "next values": targets[:keep],
        "DataLoader windows": windows[:keep],
    }


WINDOW_DATASET = Exercise(
    id="2.5.1",
    title="a Dataset with __len__ and __getitem__",
    solution=window_dataset,
    cases=_series_cases,
    oracle=_unfold,
    oracle_name="Tensor.unfold(0, window, 1) and the values after each window",
    outputs=("len", "windows", "next values", "DataLoader windows"),
    observe=_observe_windows,
    imports=("import torch", "from torch import Tensor", "from torch.utils.data import Dataset"),
    hints=(
        "inside the function, write class Windows(Dataset) with the two methods; they can "
        "read series and window from the function around them",
        "__len__ returns len(series) - window; __getitem__(i) returns "
        "(series[i : i + window], series[i + window]); return Windows()",
    ),
    mistakes=(
        Mistake(
            "one window too many",
            "the last window has no value after it: __len__ is len(series) - window, not "
            "len(series) - window + 1",
            error=r"out of bounds|out of range",
        ),
        Mistake(
            "one window too few",
            "one window is missing: __len__ is len(series) - window (the window starting at "
            "T - window - 1 still has a next value)",
            lambda series, window: _unfold(series, window, drop=1),
        ),
        Mistake(
            "the target inside the window",
            "the target is the value after the window, series[i + window], not its last value "
            "series[i + window - 1]",
            lambda series, window: _unfold(series, window, shift=-1),
        ),
    ),
)

# ---------------------------------------------------------------- exercise 2.5.2: drop_last


def batches_in_order(
    X: Tensor, y: Tensor, order: Tensor, batch_size: int, drop_last: bool
) -> list[tuple[Tensor, Tensor]]:
    """Mini-batches of (X, y) in a given order, with DataLoader's drop_last.

    X is (N, d), y is (N,), order a permutation of 0..N-1 (the shuffle, done for you). Cut
    order into consecutive pieces of batch_size; the last piece is shorter when batch_size
    does not divide N: keep it, unless drop_last, then leave it out. Return a list of
    (X[piece], y[piece]) pairs.

    >>> X, y = torch.arange(5.0).unsqueeze(1), torch.arange(5)
    >>> [len(yb) for _, yb in batches_in_order(X, y, torch.arange(5), 2, drop_last=False)]
    [2, 2, 1]
    >>> [len(yb) for _, yb in batches_in_order(X, y, torch.arange(5), 2, drop_last=True)]
    [2, 2]
    """
    n = len(order)
    stop = n - n % batch_size if drop_last else n  # where the last kept batch ends
    pieces = [order[start : start + batch_size] for start in range(0, stop, batch_size)]
    return [(X[piece], y[piece]) for piece in pieces]


def _order_cases() -> list[Case]:
    def make(n: int, size: int, drop_last: bool, seed: int) -> Case:
        def args() -> Args:
            g = torch.Generator().manual_seed(seed)
            X, y = torch.randn(n, 3, generator=g), torch.randint(0, 5, (n,), generator=g)
            return X, y, torch.randperm(n, generator=g), size, drop_last

        return Case(f"N={n}, batch_size {size}, drop_last={drop_last}", args)

    return [
        make(10, 4, False, 0),
        make(10, 4, True, 1),
        make(12, 4, True, 2),
        make(37, 5, True, 3),
        make(3, 5, True, 4),
        make(3, 5, False, 5),
    ]


def _outputs_of(batches: list[tuple[Tensor, Tensor]], d: int) -> Outputs:
    return {
        "batch sizes": torch.tensor([len(yb) for _, yb in batches], dtype=torch.long),
        "X rows": torch.cat([xb for xb, _ in batches]) if batches else torch.zeros(0, d),
        "y rows": torch.cat([yb for _, yb in batches]) if batches else torch.zeros(0),
    }


def _observe_batches(fn: object, args: Args) -> Outputs:
    batches = fn(*args)  # type: ignore[operator]
    if not isinstance(batches, list | tuple):
        raise TypeError("should return a list of (X batch, y batch) pairs")
    return _outputs_of(list(batches), args[0].shape[1])


def _loader(X: Tensor, y: Tensor, order: Tensor, size: int, drop_last: bool) -> Outputs:
    """torch's own: a DataLoader over TensorDataset, sampling in ``order``."""
    loader = DataLoader(
        TensorDataset(X, y), batch_size=size, sampler=order.tolist(), drop_last=drop_last
    )
    return _outputs_of(list(loader), X.shape[1])


def _off_by_one(X: Tensor, y: Tensor, order: Tensor, size: int, drop_last: bool) -> Outputs:
    """drop_last cutting at range(0, n - size, size): a full last batch is lost too."""
    stop = len(order) - size if drop_last else len(order)
    pieces = [order[s : s + size] for s in range(0, stop, size)]
    return _outputs_of([(X[p], y[p]) for p in pieces], X.shape[1])


BATCHES_IN_ORDER = Exercise(
    id="2.5.2",
    title="mini-batches with drop_last",
    solution=batches_in_order,
    cases=_order_cases,
    oracle=_loader,
    oracle_name="DataLoader(TensorDataset(X, y), batch_size, sampler=order, drop_last)",
    outputs=("batch sizes", "X rows", "y rows"),
    observe=_observe_batches,
    hints=(
        "walk through order in steps of batch_size; the only question drop_last changes is "
        "whether a last, shorter piece is kept",
        "stop = n - n % batch_size if drop_last else n; pieces are order[s : s + batch_size] "
        "for s in range(0, stop, batch_size)",
    ),
    mistakes=(
        Mistake(
            "drop_last ignored",
            "with drop_last=True leave out the last batch when it is shorter than batch_size",
            lambda X, y, o, s, d: _loader(X, y, o, s, False),
        ),
        Mistake(
            "always dropped",
            "keep the short last batch when drop_last is False: every row is seen once",
            lambda X, y, o, s, d: _loader(X, y, o, s, True),
        ),
        Mistake(
            "a full batch lost",
            "only a *short* last batch is dropped: when batch_size divides N all batches are "
            "full and all are kept (stop at n - n % batch_size, not n - batch_size)",
            _off_by_one,
        ),
        Mistake(
            "order ignored",
            "take the rows in the given order: X[order[s : s + batch_size]], not X[s : s + "
            "batch_size]",
            lambda X, y, o, s, d: _loader(X, y, torch.arange(len(o)), s, d),
        ),
    ),
)

LESSON = Lesson(
    id="2.5",
    title="Mini-batching and data pipelines",
    minutes=25,
    eli5=(
        "A training step looks at a batch of examples, not one and not all. A data pipeline "
        "is how the examples get there: a Dataset knows how many examples there are and how "
        "to fetch number i; a DataLoader shuffles the numbers, fetches a batch's worth and "
        "stacks them into one tensor whose first dimension is the batch. When the batch size "
        "does not divide the data, the last batch is shorter, or dropped. For data already "
        "in memory, slicing whole tensors does the same job many times faster."
    ),
    equations=(
        r"\text{batches per epoch} = \lceil N / B \rceil, \qquad "
        r"\lfloor N / B \rfloor \text{ with drop\_last}",
        r"\text{last batch} = N - B \lfloor N / B \rfloor \ \text{rows (if not 0)}",
        r"\text{Dataset: } i \mapsto (x_i, y_i), \qquad "
        r"\text{DataLoader: } (x_{\pi(k B)}, \dots, x_{\pi(k B + B - 1)}) \mapsto "
        r"X_{\text{batch}} \in \mathbb{R}^{B \times \dots}",
    ),
    look_at=(
        "batch_sizes.png, left: per epoch, batches of 1 and 16 are far ahead of the full "
        "batch (hundreds and tens of steps per epoch against one); batch 1's curve is the "
        "least smooth",
        "batch_sizes.png, right: each update's batch loss: batch 1's scatter over orders of "
        "magnitude, batch 16's much less, the full batch's not at all",
        "one_batch.png: 16 images in shuffled order with their labels, as the model receives "
        "them: (16, 1, side, side)",
        "the number of batches: ceil(N / 64), and one fewer with drop_last",
        "the DataLoader / slicing ratio: for small in-memory tensors the per-row "
        "__getitem__ and the stacking cost more than the model's step",
    ),
    demos=(
        Demo("batch 1 vs 16 vs full", batch_sizes_compared, ("batch_sizes.png",)),
        Demo("a Dataset and DataLoader of images", a_dataset_of_images, ("one_batch.png",)),
        Demo("DataLoader vs slicing, timed side by side", dataloader_vs_slicing),
    ),
    exercises=(WINDOW_DATASET, BATCHES_IN_ORDER),
    notes=(
        'The image demos take the dataset\'s name as a parameter (`dataset="digits"`, '
        "scikit-learn's bundled 8x8 digits): any built-in dataset of square grey images, one "
        "row per image, works the same way.",
    ),
)
