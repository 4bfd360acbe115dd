"""SIGINT and SIGTERM: finish the step, checkpoint, say how to resume, exit 130 / 143."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from looplab.watch.checkpoint import CHECKPOINT_DIR, list_checkpoints, read_checkpoint
from looplab.watch.interrupt import Interrupted, SignalCatcher

DRIVER = Path(__file__).with_name("kill_driver.py")


@pytest.fixture(scope="module")
def signalled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One driver run: a reference run, then SIGINT, SIGTERM and a double SIGINT, each resumed."""
    work = tmp_path_factory.mktemp("signals")
    out = subprocess.run(
        [sys.executable, str(DRIVER), "signals", str(work)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "400"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return work, json.loads(out.stdout)


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = torch.load(run_dir / "model.pt", weights_only=True)[
        "state_dict"
    ]
    return state


def assert_same_as_reference(work: Path, name: str) -> None:
    ref, got = weights(work / "reference"), weights(work / name)
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)


@pytest.mark.parametrize(("name", "code", "signame"), [("sigint", 130, "SIGINT"),
                                                       ("sigterm", 143, "SIGTERM")])  # fmt: skip
def test_signal_checkpoints_prints_the_resume_command_and_exits(
    signalled: tuple[Path, dict[str, Any]], name: str, code: int, signame: str
) -> None:
    work, report = signalled
    result = report[name]
    assert result["outcome"] == f"exit {code}"
    newest = result["after"][-1]  # written after the signal (or, at a step boundary, just before)
    log = result["log"]
    assert f"interrupted ({signame}): checkpoint saved: " in log and newest in log
    assert f"resume with: looplab train --resume {work / name}\n" in log
    assert "Traceback" not in log
    # the checkpoint is at a step boundary just after the signal, and resuming is exact
    saved = read_checkpoint(work / f"{name}-newest.pt")
    assert saved["step"] >= 14 and not saved["finished"]
    assert result["resumed"] == "exit 0"
    assert_same_as_reference(work, name)


def test_second_ctrl_c_exits_at_once_and_keeps_the_last_good_checkpoint(
    signalled: tuple[Path, dict[str, Any]],
) -> None:
    work, report = signalled
    result = report["double"]
    assert result["outcome"] == "exit 130"
    assert "stopped at once; the last good checkpoint is intact" in result["log"]
    assert f"resume with: looplab train --resume {work / 'double'}" in result["log"]
    assert result["after"] == result["before"]  # the cut-short write replaced nothing
    assert result["tmp_files"] == []
    assert result["resumed"] == "exit 0"
    assert_same_as_reference(work, "double")
    for path in list_checkpoints(work / "double" / CHECKPOINT_DIR):
        read_checkpoint(path)  # every file left behind is whole


def test_signal_catcher_records_the_first_and_raises_on_the_second() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with SignalCatcher() as signals:
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals.signum == signal.SIGTERM
        with pytest.raises(Interrupted) as info:
            os.kill(os.getpid(), signal.SIGINT)
    assert info.value.exit_code == 130
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored
