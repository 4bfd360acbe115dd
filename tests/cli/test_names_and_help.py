"""Run directory names every system accepts, and `--help` that shows each flag's default."""

from __future__ import annotations

from pathlib import Path

import pytest

from looplab.cli import run
from looplab.config import Config, field_names
from looplab.files import portable_name
from looplab.run.directory import create_run_dir

WINDOWS_REFUSES = set('<>:"/\\|?*')


@pytest.mark.parametrize(
    "dataset", ["csv:C:/data/houses.csv", "csv:C:\\data\\houses.csv", "csv:data/houses.csv"]
)
def test_a_generated_run_name_has_no_colon_and_names_the_file(tmp_path: Path, dataset: str) -> None:
    path = create_run_dir(tmp_path, None, Config(dataset=dataset, target="price"))
    assert path.name.startswith("houses-mlp-") and not WINDOWS_REFUSES & set(path.name)


@pytest.mark.parametrize("text", ["lr-find-csv:houses.csv-2026", "a<b>c", "con", "..x..", ":"])
def test_portable_names_keep_only_safe_characters(text: str) -> None:
    name = portable_name(text)
    assert name and not WINDOWS_REFUSES & set(name) and name[-1] not in ". "
    assert name.lower() not in ("con", "prn", "aux", "nul")
    assert portable_name(name) == name


def test_lr_find_on_a_csv_makes_a_portable_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "t.csv"
    table.write_text("x,y\n" + "".join(f"{i},{2 * i + 1}\n" for i in range(40)))
    args = [
        "lr-find",
        "--dataset",
        f"csv:{table}",
        "--target",
        "y",
        "--steps",
        "20",
        "--batch-size",
        "8",
        "--out",
        str(tmp_path / "runs"),
    ]
    assert run(args) == 0
    (made,) = (tmp_path / "runs").iterdir()
    assert made.name.startswith("lr-find-csv_t.csv-") and ":" not in made.name


def test_a_refused_name_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["train", "--name", "a:b", "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: name 'a:b' is not a portable directory name")
    assert err.count("\n") == 1 and "--name a_b" in err
    assert not (tmp_path / "runs").exists()


def test_train_help_shows_every_flags_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["train", "--help"]) == 0
    out = capsys.readouterr().out
    expected = {
        "--hidden": "16,16",
        "--lr": "0.01",
        "--batch-size": "32",
        "--dataset": "moons",
        "--monitor": "false",
        "--patience": "0",
        "--n": "the dataset's",
        "--standardize-target": "true",
        "--drop": "none",
    }
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("│ --")}
    for flag, default in expected.items():
        assert f"[default: {default}]" in lines[flag], flag
    assert sum("[default:" in line for line in lines.values()) == len(field_names())


def test_commands_with_other_defaults_do_not_claim_configs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in ("regularize", "compare"):
        assert run([command, "--help"]) == 0
        assert "[default: 16,16]" not in capsys.readouterr().out
