"""`looplab train`: the main job with its defaults, and what a run directory holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from looplab.cli import run
from looplab.config import Config
from looplab.pipeline import train
from looplab.run.saved import load_run


def test_default_job_reaches_95_percent_and_a_linear_model_does_not() -> None:
    """The course's claim: moons needs a nonlinear model (defaults: MLP 16,16, adam, 100 epochs)."""
    mlp = train(Config(), write=False)
    assert mlp.history.last["val_accuracy"] >= 0.95
    linear = train(Config(model="linear"), write=False)
    assert linear.history.last["val_accuracy"] < 0.90


def test_train_writes_a_complete_run_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        ["train", "--epochs", "3", "--test-fraction", "0.1", "--out", str(tmp_path), "--name", "r"]
    )
    out = capsys.readouterr().out
    assert code == 0
    run_dir = tmp_path / "r"
    assert {p.name for p in run_dir.iterdir()} >= {
        "config.toml",
        "history.csv",
        "model.pt",
        "report.html",
    }
    assert "report:" in out and "accuracy" in out
    payload = torch.load(run_dir / "model.pt", weights_only=True)
    assert payload["spec"]["hidden"] == [16, 16]
    assert payload["class_names"] == ["class 0", "class 1"]
    assert payload["preprocessor"]["mean"].shape == (2,)
    assert len((run_dir / "history.csv").read_text().splitlines()) == 4  # header + 3 epochs
    saved = load_run(run_dir)
    assert saved.config is not None and saved.config.epochs == 3


def test_report_is_one_self_contained_file(tmp_path: Path) -> None:
    result = train(Config(epochs=3, out=str(tmp_path)))
    assert result.report is not None
    html = result.report.read_text()
    for section in (
        "Final metrics",
        "Training curves",
        "Decision boundary",
        "Confusion matrix",
        "Layers",
        "Configuration",
    ):
        assert f"<h2>{section}</h2>" in html
    assert html.count("data:image/png;base64,") >= 4
    assert 'src="http' not in html and "href=" not in html  # nothing to fetch
    regression = train(Config(dataset="sine", epochs=3, out=str(tmp_path)))
    assert regression.report is not None
    assert "<h2>Fitted curve</h2>" in regression.report.read_text()


def test_config_file_and_flags(tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text('dataset = "iris"\nepochs = 2\nhidden = [8]\n')
    assert run(["--help"]) == 0
    code = run(
        ["train", "--config", str(toml), "--epochs", "3", "--out", str(tmp_path), "--name", "c"]
    )
    assert code == 0
    saved = load_run(tmp_path / "c")
    assert saved.config is not None
    assert (saved.config.dataset, saved.config.epochs, saved.config.hidden) == ("iris", 3, [8])
    assert saved.class_names == ["setosa", "versicolor", "virginica"]


def test_an_internal_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only user mistakes become one-line errors; a bug in looplab must stay visible."""
    import looplab.pipeline

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(looplab.pipeline, "train", broken)
    with pytest.raises(ZeroDivisionError):
        run(["train", "--epochs", "1"])
