"""CSV files: one-hot strings, class labels from strings, missing values dropped or imputed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from looplab.config import Config
from looplab.data import prepare, read_csv
from looplab.data.tabular import encode_features

ROWS = [
    "size,colour,weight,label",
    "1.0,red,10,cat",
    "2.0,blue,,dog",
    "3.0,red,30,dog",
    ",green,40,cat",
    "5.0,blue,50,cat",
    "6.0,red,60,",
    "7.0,green,70,dog",
    "8.0,blue,80,cat",
]


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "pets.csv"
    path.write_text("\n".join(ROWS) + "\n")
    return path


def test_strings_become_one_hot_and_target_becomes_classes(csv_file: Path) -> None:
    data = read_csv(csv_file, "label")
    assert data.task == "binary"
    assert data.class_names == ["cat", "dog"]
    assert data.feature_names == ["size", "colour=blue", "colour=green", "colour=red", "weight"]
    # row "1.0,red,10,cat" is complete: size 1, red one-hot, weight 10, label cat = 0
    assert data.X[0].tolist() == [1.0, 0.0, 0.0, 1.0, 10.0]
    assert data.y[0].item() == 0.0
    assert data.encoding["classes"] == ["cat", "dog"]


def test_rows_with_missing_values_are_dropped_and_counted(csv_file: Path) -> None:
    data = read_csv(csv_file, "label")
    # 8 rows: one has no label, two more have a missing feature
    assert data.n_rows == 5
    assert any("dropped 1 of 8 rows with no 'label' value" in n for n in data.notes)
    assert any("dropped 2 of 7 rows with missing values" in n for n in data.notes)


def test_impute_mean_uses_the_training_split_only(csv_file: Path) -> None:
    data = read_csv(csv_file, "label", impute="mean")
    assert data.n_rows == 7 and torch.isnan(data.X).any()
    config = Config(val_fraction=0.0, standardize=False, seed=0)
    prepared = prepare(data, config)
    train = prepared.train
    assert prepared.preprocessor is not None
    assert not torch.isnan(train.X).any()
    observed = data.X[:, 0][~torch.isnan(data.X[:, 0])]
    assert prepared.preprocessor.mean[0].item() == pytest.approx(observed.mean().item())


def test_many_whole_number_classes_vs_regression(tmp_path: Path) -> None:
    path = tmp_path / "nums.csv"
    path.write_text("x,grade,price\n" + "".join(f"{i},{i % 3},{i * 1.5}\n" for i in range(30)))
    assert read_csv(path, "grade").task == "multiclass"
    assert read_csv(path, "grade").class_names == ["0", "1", "2"]
    assert read_csv(path, "price").task == "regression"
    assert read_csv(path, "grade", task="regression").task == "regression"


def test_prediction_rows_are_encoded_like_training(csv_file: Path) -> None:
    data = read_csv(csv_file, "label")
    X = encode_features([{"size": "4", "colour": "purple", "weight": "5"}], data.encoding)
    # an unseen category is all zeros in its one-hot group
    assert X.tolist() == [[4.0, 0.0, 0.0, 0.0, 5.0]]
