"""A standardized regression target, seen from the outside: the loss starts near 1, a tiny
table still fits, and MAE, predictions and the fitted curve are in the target's own units."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import mean_absolute_error

from looplab.config import Config
from looplab.data import load_dataset, split_indices
from looplab.pipeline import train
from looplab.run.predict import predict_rows
from looplab.run.saved import MODEL_FILE, load_run


def write_table(path: Path, n: int, seed: int = 0) -> Path:
    """Employment-like numbers (tens of thousands) from GNP- and population-like columns."""
    rng = np.random.default_rng(seed)
    gnp = np.linspace(234, 555, n) + rng.normal(0, 5, n)
    pop = np.linspace(107, 130, n) + rng.normal(0, 0.5, n)
    employed = 51000 + 35 * gnp + 80 * (pop - 107) + rng.normal(0, 300, n)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["gnp", "population", "employed"])
        writer.writerows(zip(gnp.round(1), pop.round(2), employed.round(0), strict=True))
    return path


def table_config(path: Path, tmp_path: Path, **changes: object) -> Config:
    base = dict(
        dataset=f"csv:{path}",
        target="employed",
        model="linear",
        batch_size="full",
        out=str(tmp_path),
        lr=0.05,
    )
    return Config(**{**base, **changes}).validate()  # type: ignore[arg-type]


def test_a_sixteen_row_regression_fits_and_its_loss_starts_near_one(tmp_path: Path) -> None:
    table = write_table(tmp_path / "longley.csv", 16)
    fitted = train(table_config(table, tmp_path), write=False)
    assert fitted.history[0]["train_loss"] < 10  # MSE on the standardized target
    assert fitted.history.last["train_r2"] > 0.9
    raw = train(table_config(table, tmp_path, standardize_target=False), write=False)
    assert raw.history[0]["train_loss"] > 1e8  # squared tens of thousands: the old behaviour
    assert raw.history.last["train_r2"] < 0


def test_mae_and_predictions_are_in_the_target_units(tmp_path: Path) -> None:
    table = write_table(tmp_path / "jobs.csv", 200)
    config = table_config(table, tmp_path, epochs=60, name="jobs")
    result = train(config)
    assert result.run_dir is not None
    data = load_dataset(config.dataset, target="employed")
    _, val_idx, _ = split_indices(data, config.val_fraction, 0.0, config.seed)
    val_csv = tmp_path / "val.csv"
    with val_csv.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["gnp", "population"])
        writer.writerows(data.X[val_idx].tolist())
    _, _, predictions = predict_rows(result.run_dir, val_csv)
    predicted = np.array([row[0] for row in predictions.values], dtype=float)
    truth = data.y[val_idx].numpy()
    assert predicted.mean() == pytest.approx(truth.mean(), rel=0.01)  # not ~0: unscaled
    mae = mean_absolute_error(truth, predicted)
    assert result.history.last["val_mae"] == pytest.approx(mae, rel=1e-3)
    assert 10 < mae < 2000  # people, not standard deviations


def test_a_model_file_without_target_statistics_predicts_raw_outputs(tmp_path: Path) -> None:
    result = train(Config(dataset="linear", epochs=3, out=str(tmp_path), name="old"))
    assert result.run_dir is not None
    file = result.run_dir / MODEL_FILE
    payload = torch.load(file, weights_only=True)
    assert payload["preprocessor"]["target_std"] != 1.0
    for key in ("target_mean", "target_std"):  # as written before targets were standardized
        del payload["preprocessor"][key]
    torch.save(payload, file)
    saved = load_run(result.run_dir)
    assert saved.preprocessor is not None and saved.preprocessor.target_std == 1.0
    points = tmp_path / "x.csv"
    points.write_text("x\n0.5\n")
    _, _, predictions = predict_rows(result.run_dir, points)
    with torch.no_grad():
        raw = saved.model(saved.preprocessor.transform(torch.tensor([[0.5]])))
    assert predictions.values[0][0] == pytest.approx(float(raw[0, 0]), rel=1e-6)


def test_a_run_saved_before_standardized_targets_keeps_its_raw_target(tmp_path: Path) -> None:
    from looplab.run.resume import resume_config, saved_config

    config = Config(dataset="linear", epochs=3, standardize_target=False, out=str(tmp_path))
    result = train(config.replace(name="old"))
    assert result.run_dir is not None
    toml = result.run_dir / "config.toml"
    lines = toml.read_text().splitlines()
    toml.write_text("\n".join(line for line in lines if "standardize_target" not in line))
    assert "standardize_target" not in toml.read_text()  # as an older looplab wrote it
    saved = load_run(result.run_dir)
    assert saved.config is not None and saved.config.standardize_target is False
    assert resume_config(result.run_dir, None, {"epochs": 5}).standardize_target is False
    old_payload = {
        "config": {k: v for k, v in config.to_dict().items() if k != "standardize_target"}
    }
    assert saved_config(old_payload).standardize_target is False
    assert Config().standardize_target is True  # new runs standardize
