"""CSV files: one-hot strings, class labels from strings, missing values dropped or imputed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from looplab.config import Config
from looplab.data import prepare, read_csv
from looplab.data.split import Split
from looplab.data.tabular import encode_features
from looplab.errors import DataError

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
    assert isinstance(train, Split) and prepared.preprocessor is not None
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


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_every_unusable_column_is_named_in_one_message(tmp_path: Path) -> None:
    rows = [f"2024-01-{i + 1:02d},comment {i},,{i},{i % 2}" for i in range(25)]
    path = _write(tmp_path / "messy.csv", "day,Free Text,notes,x,y", rows)
    with pytest.raises(DataError) as info:
        read_csv(path, "y", drop=["x"])
    assert str(info.value) == (
        f"3 columns of CSV file {str(path)!r} cannot be used as features: 'day' (dates), "
        "'Free Text' (free text, 25 distinct values), 'notes' (empty); "
        "leave them out with --drop 'x,day,Free Text,notes'"
    )


def test_missing_values_name_the_column_responsible(tmp_path: Path) -> None:
    # 'Comments' is empty in 31 of 34 rows; 'Age' in 2, one of them also without a comment
    rows = [
        f"{i},{'' if i in (3, 7) else 20 + i},{'ok' if i % 12 == 0 else ''},{i // 12 % 2}"
        for i in range(34)
    ]
    path = _write(tmp_path / "survey.csv", "x,Age,Comments,y", rows)
    data = read_csv(path, "y")
    assert data.n_rows == 3
    assert data.notes == [
        "dropped 31 of 34 rows with missing values, mostly from 'Comments' (31 empty; then "
        "'Age' 2); --drop Comments keeps 29 of them, or --impute mean fills them with the "
        "training mean instead"
    ]
    spread = _write(
        tmp_path / "spread.csv",
        "a,b,c,d,y",
        [
            ",1,1,1,0",
            "1,,1,1,1",
            "1,1,,1,0",
            "1,1,1,,1",
            ",1,1,1,0",
            *["1,1,1,1,0", "1,1,1,1,1"] * 3,
        ],
    )
    assert read_csv(spread, "y").notes == [
        "dropped 5 of 11 rows with missing values (empty cells in 'a' 2, 'b' 1, 'c' 1 and "
        "1 more column); --impute mean fills them with the training mean instead"
    ]


def test_no_complete_rows_names_the_empty_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "holes.csv", "x,z,y", [",1,0", ",2,1", "3,,0", ",4,1"])
    with pytest.raises(DataError) as info:
        read_csv(path, "y")
    assert str(info.value) == (
        f"CSV file {str(path)!r} has no complete rows left after dropping missing values, "
        "mostly from 'x' (3 empty; then 'z' 1); --drop x keeps 3 of them, or --impute mean "
        "fills them with the training mean instead"
    )


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("unknown", "target 'price' has 2 such cells: 'unknown' (lines 5, 40)"),
        ("12,5", "(write decimals with a point (12.5, not 12,5)): target 'price' has"),
        ("inf", "(inf and numbers beyond 3.4e38 do not fit in float32): target 'price'"),
        ("1e39", "target 'price' has 2 such cells: '1e39' (lines 5, 40)"),
    ],
)
def test_a_bad_cell_in_a_numeric_target_is_named_with_its_lines(
    tmp_path: Path, bad: str, expected: str
) -> None:
    # 60 distinct prices and one bad token twice: not a 61-class target
    rows = [f"{i},{bad if i in (3, 38) else i * 1.5}" for i in range(60)]
    path = _write(
        tmp_path / "prices.csv",
        "x,price",
        [f'{r.split(",", 1)[0]},"{r.split(",", 1)[1]}"' for r in rows],
    )
    with pytest.raises(DataError) as info:
        read_csv(path, "price")
    message = str(info.value)
    assert expected in message
    assert message.endswith(
        "write numbers in those cells, or empty the 'price' cells to drop their rows, "
        "or if 'price' holds class labels, use --task multiclass"
    )
    assert read_csv(path, "price", task="multiclass").task == "multiclass"


def test_one_bad_cell_does_not_make_a_numeric_feature_free_text(tmp_path: Path) -> None:
    rows = [
        f"{'inf' if i == 7 else i * 0.5},{'n/k' if i in (2, 4, 6, 8) else i},{i % 2}"
        for i in range(40)
    ]
    path = _write(tmp_path / "feat.csv", "size,rooms,y", rows)
    with pytest.raises(DataError) as info:
        read_csv(path, "y")
    assert str(info.value) == (
        f"CSV file {str(path)!r} has cells that are not usable numbers in numeric columns "
        "(inf and numbers beyond 3.4e38 do not fit in float32): column 'size' has 1 such "
        "cell: 'inf' (line 9); column 'rooms' has 4 such cells: 'n/k' (lines 4, 6, 8 and 1 "
        "more); write numbers in those cells, or empty them to make them missing (--impute "
        "mean fills those), or leave them out with --drop size,rooms"
    )


def test_a_category_column_with_a_few_numbers_stays_categorical(tmp_path: Path) -> None:
    rows = [f"{['small', 'large', 'medium', '3'][i % 4]},{i % 2}" for i in range(20)]
    data = read_csv(_write(tmp_path / "sizes.csv", "size,y", rows), "y")
    assert data.feature_names == ["size=3", "size=large", "size=medium", "size=small"]


def test_numbers_beyond_float32_are_refused_at_prediction_too(csv_file: Path) -> None:
    data = read_csv(csv_file, "label")
    with pytest.raises(DataError, match=r"column 'size' has '1e39', which is not a finite"):
        encode_features([{"size": "1e39", "colour": "red", "weight": "5"}], data.encoding)


def test_a_target_empty_in_every_row_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "blank.csv", "x,y", ["1,", "2,NA"])
    with pytest.raises(DataError) as info:
        read_csv(path, "y")
    assert str(info.value) == (
        f"target 'y' is empty in every row of CSV file {str(path)!r}; choose another --target"
    )
