"""Every command of the README's code blocks runs as written, from a copy of the repository's
top folder (its ``examples/`` files included), and exits 0 (``check`` on the untouched starter
exits 1, as the README says).

``runs/<name>`` is replaced by the run the last ``train`` created. The quick commands run in the
default suite; the whole tour, long commands included, is marked slow (``uv run pytest -m slow``).
"""

from __future__ import annotations

import csv
import importlib.util
import re
import shlex
import shutil
from pathlib import Path

import pytest

from looplab.cli import run

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
LONG = (
    "compare",
    "sweep",
    "regularize",
    "lr-find",
    "landscape",
    "runs",
    "lesson",
    "gpt",
)  # subcommands
# Exit codes other than 0 that the README promises: "`looplab check` fails until you write the
# function's body" (1: the check ran and failed; 2 would be a mistake in the command).
EXIT_CODES = {"check": 1}
# train runs that take longer (--nproc: torchrun and 2 more interpreters, ~50 s) or need one
LONG_FLAGS = ("--engine", "--monitor", "--resume", "--nproc")


def readme_commands() -> list[str]:
    """The lines of the README's ```bash blocks, comments removed."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    lines = [re.sub(r"\s+#.*$", "", line).strip() for b in blocks for line in b.splitlines()]
    return [line for line in lines if line]


def is_long(command: str) -> bool:
    words = shlex.split(command)  # uv run looplab SUBCOMMAND ...
    return bool(set(words[3:4]) & set(LONG)) or any(flag in words for flag in LONG_FLAGS)


def run_tour(commands: list[str], folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(EXAMPLES, folder / "examples")
    monkeypatch.chdir(folder)
    runs, latest = folder / "runs", None
    for command in commands:
        assert command.startswith("uv run "), f"the README says `uv run` everywhere: {command}"
        argv = shlex.split(command.removeprefix("uv run "))
        if argv[0] == "pytest":
            continue  # the suite itself
        assert argv[0] == "looplab", command
        if "runs/<name>" in command:
            assert latest is not None, f"no run trained before: {command}"
            argv = [a.replace("runs/<name>", f"runs/{latest}") for a in argv]
        before = set(runs.iterdir()) if runs.exists() else set()
        assert run(argv[1:]) == EXIT_CODES.get(argv[1], 0), command
        if argv[1] == "train" and not {"--help", "--resume"} & set(argv):
            (made,) = set(runs.iterdir()) - before
            latest = made.name


def test_the_readme_says_uv_run_and_names_only_files_that_exist() -> None:
    commands = readme_commands()
    assert len(commands) >= 20 and all(c.startswith("uv run ") for c in commands)
    for command in commands:
        for path in re.findall(r"(examples/[\w./-]+)", command):
            assert (ROOT / path).is_file(), path


def test_the_quick_readme_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    quick = [c for c in readme_commands() if not is_long(c)]
    assert any(" predict " in c for c in quick) and any(" gradcheck " in c for c in quick)
    run_tour(quick, tmp_path, monkeypatch)
    rows = list(csv.DictReader((tmp_path / "predictions.csv").open()))
    points = list(csv.DictReader((EXAMPLES / "new_points.csv").open()))
    assert [r["address"] for r in rows] == [p["address"] for p in points]
    for row in rows:  # in the table's units: near the rule examples/README.md documents
        if all(row.values()):
            assert float(row["prediction"]) == pytest.approx(rule_price(row), abs=40), row


def rule_price(row: dict[str, str]) -> float:
    """The noise-free price of examples/README.md, in thousands."""
    return (40 + 2.6 * float(row["area_m2"]) + 12 * float(row["bedrooms"])
            - 1.1 * float(row["age_years"]) - 9 * float(row["distance_km"])
            + 25 * (row["garden"] == "yes") - 10 * "ABCDE".index(row["energy_label"]))  # fmt: skip


@pytest.mark.slow
def test_the_whole_readme_tour_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_tour(readme_commands(), tmp_path, monkeypatch)


def test_houses_csv_is_what_its_script_writes_and_new_points_match_it() -> None:
    spec = importlib.util.spec_from_file_location("make_houses", EXAMPLES / "make_houses.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = [{k: str(v) for k, v in row.items()} for row in module.houses()]
    with (EXAMPLES / "houses.csv").open(newline="") as f:
        assert list(csv.DictReader(f)) == expected
    header = list(expected[0])
    assert "price" in header and "address" in header
    assert sum(v == "" for row in expected for v in row.values()) > 0  # for --impute mean
    with (EXAMPLES / "new_points.csv").open(newline="") as f:
        assert next(csv.reader(f)) == [h for h in header if h != "price"]
