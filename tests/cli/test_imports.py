"""Each command imports only what it uses: the heavy libraries (torch, scikit-learn, SciPy,
matplotlib, torch._dynamo, TensorBoard) cost seconds of every start (benchmarks/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from looplab.config import Config
from looplab.pipeline import train

HEAVY = ["torch", "torch._dynamo", "sklearn", "scipy", "matplotlib", "tensorboard", "pandas"]

# One fresh interpreter runs the commands in this order and reports the heavy modules loaded
# after each. Modules only add up, so each command's list forbids all that the next ones forbid.
SCRIPT = """
import json, sys
from looplab.cli import run
heavy, loaded = json.loads(sys.argv[1]), []
for argv in json.loads(sys.argv[2]):
    run(argv)
    loaded.append(sorted(m for m in heavy if m in sys.modules))
print(json.dumps(loaded))
"""


def test_each_command_imports_only_the_heavy_modules_it_uses(tmp_path: Path) -> None:
    train(Config(epochs=1, n=200, out=str(tmp_path / "runs"), name="done"))
    (tmp_path / "rows.csv").write_text("x1,x2\n0.5,0.2\n1.0,-0.3\n")
    run_dir = str(tmp_path / "runs" / "done")
    steps: list[tuple[list[str], set[str]]] = [
        (["--help"], set(HEAVY)),
        (["datasets"], set(HEAVY)),
        (["train", "--optimizer", "adamx"], set(HEAVY)),  # refused before anything is loaded
        (["runs", str(tmp_path / "runs")], set(HEAVY) - {"torch"}),
        (["summary", "--in", "2", "--hidden", "16,16", "--out", "1"], set(HEAVY) - {"torch"}),
        (["predict", run_dir, "--input", "rows.csv"], set(HEAVY) - {"torch"}),
        (["train", "--epochs", "1", "--n", "200", "--out", "runs"], {"sklearn", "scipy",
                                                                     "tensorboard", "pandas"}),
    ]  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(HEAVY), json.dumps([a for a, _ in steps])],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    for (argv, forbidden), modules in zip(steps, loaded, strict=True):
        assert not forbidden & set(modules), f"looplab {' '.join(argv)} imported {modules}"
    assert "matplotlib" in loaded[-1]  # the report's figures: the check sees what it looks for


def test_the_console_script_prints_everything_and_keeps_its_exit_code(tmp_path: Path) -> None:
    # main() freezes the collector before exit (a faster exit): output and codes are intact
    code = "import sys; from looplab.cli import main; sys.argv[0] = 'looplab'; main()"
    listed = subprocess.run([sys.executable, "-c", code, "datasets"], capture_output=True,
                            text=True, cwd=tmp_path)  # fmt: skip
    assert listed.returncode == 0 and "breast_cancer" in listed.stdout
    refused = subprocess.run([sys.executable, "-c", code, "train", "--lr", "-1"],
                             capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: lr must be")
    assert not (tmp_path / "runs").exists()
