"""Train/validation/test splits and standardization fitted on the training split only."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from looplab.config import Config
from looplab.data import Split, load_dataset, prepare, read_csv, split_indices
from looplab.errors import DataError


def test_fractions_are_of_all_rows_and_disjoint() -> None:
    data = load_dataset("moons", n=1000)
    train, val, test = split_indices(data, 0.2, 0.1, seed=0)
    assert (len(train), len(val), len(test)) == (700, 200, 100)
    assert len(set(train) | set(val) | set(test)) == 1000


def test_split_is_seeded_and_stratified() -> None:
    data = load_dataset("iris")
    a = split_indices(data, 0.2, 0.2, seed=3)
    b = split_indices(data, 0.2, 0.2, seed=3)
    assert all((x == y).all() for x, y in zip(a, b, strict=True))
    for part in a:  # 50 of each species: every part holds them in equal numbers
        counts = torch.bincount(data.y[part], minlength=3)
        assert counts.max() - counts.min() <= 1


def test_standardization_uses_training_rows_only() -> None:
    data = load_dataset("wine")
    prepared = prepare(data, Config(dataset="wine", val_fraction=0.3, seed=0))
    train, val = prepared.train, prepared.val
    assert isinstance(train, Split) and isinstance(val, Split)
    assert train.X.mean(0).abs().max() < 1e-5
    assert train.X.std(0, unbiased=False).sub(1).abs().max() < 1e-4
    # validation rows are transformed with the training mean/std, so they are not exactly 0/1
    assert val.X.mean(0).abs().max() > 1e-3
    pre = prepared.preprocessor
    assert pre is not None
    idx, _, _ = split_indices(data, 0.3, 0.0, seed=0)
    assert torch.allclose(pre.mean, data.X[idx].mean(0), atol=1e-4)


def test_standardize_off_keeps_raw_features() -> None:
    data = load_dataset("linear")
    prepared = prepare(data, Config(dataset="linear", standardize=False))
    pre = prepared.preprocessor
    assert pre is not None
    assert torch.equal(pre.transform(data.X), data.X)
    assert isinstance(prepared.train, Split)
    assert prepared.train.X.abs().max() <= 1.0 + 1e-6  # x ~ U(-1, 1), untouched


def test_a_class_with_one_row_is_named_instead_of_sklearns_message(tmp_path: Path) -> None:
    # a count 0..5 meant as a quantity: auto takes it for 6 classes, and '5' occurs once
    counts = [i % 5 for i in range(29)] + [5]
    path = tmp_path / "visits.csv"
    path.write_text("age,visits\n" + "".join(f"{20 + i},{c}\n" for i, c in enumerate(counts)))
    data = read_csv(path, "visits")
    with pytest.raises(DataError) as info:
        split_indices(data, 0.2, 0.0, seed=0)
    assert str(info.value) == (
        "cannot split 'csv:visits.csv' into training and validation rows stratified by class: "
        "class '5' has only 1 row (2 are needed); if 'visits' is a quantity rather than a "
        "label, use --task regression, else add rows of that class"
    )
    assert read_csv(path, "visits", task="regression").task == "regression"


def test_a_split_smaller_than_the_classes_gets_one_line(tmp_path: Path) -> None:
    path = tmp_path / "grades.csv"
    path.write_text("x,grade\n" + "".join(f"{i},{i % 6}\n" for i in range(20)))
    with pytest.raises(DataError) as info:
        split_indices(read_csv(path, "grade"), 0.2, 0.0, seed=0)
    assert str(info.value) == (
        "cannot split 20 rows of 'csv:grades.csv' into validation 0.2 and test 0.0: every part "
        "needs a row of each of its 6 classes; use more rows or other fractions; if 'grade' is "
        "a quantity rather than a label, use --task regression"
    )
