"""``looplab gpt`` end to end: a tiny run, its output and files, sampling from it, how the
other commands treat a gpt run (runs, train --resume, predict)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from looplab.cli import run
from looplab.experiments.gpt_sampling import load_gpt, sample_text

TINY = ["--context", "32", "--layers", "2", "--heads", "2", "--dim", "32", "--batch-size", "4",
        "--iterations", "16", "--eval-every", "8", "--warmup", "2", "--threads", "1",
        "--samples-every", "1", "--sample-length", "20"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A finished tiny run on 10,000 characters of CPython's help text: (run, stdout, stderr)."""
    from looplab.data.text import load_corpus

    root = tmp_path_factory.mktemp("gpt")
    corpus = root / "help.txt"
    corpus.write_text(load_corpus("pydoc").text[:10_000], encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()  # capsys is per test: capture by hand here
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(["gpt", "--corpus", str(corpus), *TINY, "--out", str(root / "runs"),
                    "--name", "g"])  # fmt: skip
    assert code == 0, err.getvalue()
    return root / "runs" / "g", out.getvalue(), err.getvalue()


def test_a_run_prints_what_it_is_and_what_it_reached(trained: tuple[Path, str, str]) -> None:
    run_dir, out, err = trained
    assert "text: the text file help.txt, 10,000 characters (9,000 to train on, the last " in err
    assert "baselines in nats per character: uniform ln V" in err
    assert "model: GPT 2 layers x 32 dims, 2 heads, context 32:" in err
    assert out.splitlines()[0].startswith("help.txt: GPT 2 layers x 32 dims, 2 heads, context 32")
    history = (run_dir / "history.csv").read_text().splitlines()
    val_loss = float(history[-1].split(",")[3])
    assert f"held-out loss {val_loss:.4g} nats per character" in out
    assert "sample (temperature 0.8, top-k 40):" in out
    assert f"report: {run_dir / 'report.html'}" in out
    for name in ("config.toml", "history.csv", "model.pt", "report.html", "samples.json",
                 "status.json"):  # fmt: skip
        assert (run_dir / name).is_file(), name
    assert json.loads((run_dir / "status.json").read_text())["status"] == "complete"


def test_sample_continues_the_prompt(
    trained: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = trained[0]
    args = ["gpt", "--sample", str(run_dir), "--prompt", "The ", "--length", "40"]
    assert run([*args, "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("The ")
    saved = load_gpt(run_dir)
    expected = sample_text(saved.gpt, saved.vocab, "The ", 40, temperature=0.8, top_k=40, seed=3)
    assert first == "The " + expected + "\n"
    assert run([*args, "--seed", "4"]) == 0
    assert capsys.readouterr().out != first


def test_sample_says_which_prompt_characters_it_cannot_read(
    trained: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["gpt", "--sample", str(trained[0]), "--prompt", "été ✓", "--length", "5"]) == 0
    err = capsys.readouterr().err
    assert "the prompt's 'é✓' are not in the run's vocabulary" in err  # é, ✓ not in 10k chars


def test_runs_lists_a_gpt_run_with_its_text_and_how_to_resume_it(
    trained: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = trained[0]
    interrupted = run_dir.parent / "g-interrupted"
    shutil.copytree(run_dir, interrupted)
    (interrupted / "status.json").write_text('{"status": "interrupted", "kind": "gpt"}')
    assert run(["runs", str(run_dir.parent)]) == 0
    out = capsys.readouterr().out
    assert "help.txt" in out and "2/2" in out
    assert f"looplab gpt --resume {interrupted}" in out
    shutil.rmtree(interrupted)


def test_other_commands_point_a_gpt_run_to_looplab_gpt(
    trained: tuple[Path, str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_dir = trained[0]
    assert run(["train", "--resume", str(run_dir)]) == 2
    assert (
        f"it is a gpt run; resume it with looplab gpt --resume {run_dir}" in capsys.readouterr().err
    )
    (tmp_path / "x.csv").write_text("x1,x2\n1,2\n")
    assert run(["predict", str(run_dir), "--input", str(tmp_path / "x.csv")]) == 2
    assert "is a language model (looplab gpt)" in capsys.readouterr().err
    assert run(["gpt", "--resume", str(run_dir)]) == 2
    assert (
        "is already complete; sample from it with looplab gpt --sample" in capsys.readouterr().err
    )
