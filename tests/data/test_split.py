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


def test_prepare_leaves_the_raw_data_alone_and_makes_one_copy_per_part() -> None:
    """Each part is its rows' copy standardized in place; the raw features are untouched."""
    data = load_dataset("wine")
    raw = data.X.clone()
    prepared = prepare(data, Config(dataset="wine", val_fraction=0.3, seed=0))
    assert torch.equal(data.X, raw)
    pre, train, val = prepared.preprocessor, prepared.train, prepared.val
    assert pre is not None and isinstance(train, Split) and isinstance(val, Split)
    idx, val_idx, _ = split_indices(data, 0.3, 0.0, seed=0)
    expected = (raw[idx] - raw[idx].mean(0)) / raw[idx].std(0, unbiased=False)
    torch.testing.assert_close(train.X, expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(val.X, pre.transform(raw[val_idx]))  # the same arithmetic either way
    X = raw[val_idx]
    assert pre.transform(X, in_place=True) is X  # no new tensor the size of the data


def test_missing_values_are_filled_with_the_training_mean_in_place_too() -> None:
    from looplab.data.preprocess import Preprocessor

    X = torch.tensor([[1.0, 10.0], [float("nan"), 20.0], [3.0, float("nan")], [4.0, 40.0]])
    pre = Preprocessor.fit(X, standardize=False)
    torch.testing.assert_close(pre.mean, torch.tensor([8 / 3, 70 / 3]))
    filled = pre.transform(X)
    assert torch.isnan(X).sum() == 2  # a new tensor: X unchanged
    assert torch.equal(filled, pre.transform(X.clone(), in_place=True))
    assert filled[1, 0] == pre.mean[0] and filled[2, 1] == pre.mean[1]
    complete = torch.tensor([[1.0, 10.0], [8 / 3, 20.0], [3.0, 70 / 3], [4.0, 40.0]])
    scaled = Preprocessor.fit(X)  # std of the filled columns
    torch.testing.assert_close(scaled.std, complete.std(0, unbiased=False))


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
