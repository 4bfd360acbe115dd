"""SIGINT and SIGTERM at seeded random moments to every long command (train, sweep with one
and two workers, compare, lr-find, landscape, regularize): exit 130 / 143 (0 if it finished
first), no process left behind, nothing finished lost, a sweep finished by --resume.

Subprocess-heavy: one driver process (tests/run/signal_driver.py) forks the 14 cases, about
40-90 s of wall time on 2 busy cores; it runs on one xdist worker beside the rest of the suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DRIVER = Path(__file__).with_name("signal_driver.py")
COMMANDS = {"train", "sweep-jobs2", "sweep-jobs1", "compare", "lr-find", "landscape", "regularize"}


# every long command started and signalled twice as a real process: ~1 min; CI runs it
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    work = tmp_path_factory.mktemp("signals")
    out = subprocess.run(
        [sys.executable, str(DRIVER), str(work), "7"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "400"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    found: list[dict[str, Any]] = json.loads(out.stdout)["cases"]
    return found


def test_every_long_command_was_signalled_both_ways(cases: list[dict[str, Any]]) -> None:
    assert {(c["name"], c["signal"]) for c in cases} == {
        (name, sig) for name in COMMANDS for sig in (2, 15)
    }
    interrupted = [c for c in cases if c["exit"] in (130, 143)]
    assert len(interrupted) >= len(cases) // 2  # the moments are chosen to land mid-work


def test_exit_codes_and_one_message_no_traceback(cases: list[dict[str, Any]]) -> None:
    for c in cases:
        assert c["exit"] in (0, "finished first", 128 + c["signal"]), (c["name"], c["exit"])
        assert "Traceback" not in c["log"], c["log"][-2000:]
        if c["exit"] == 128 + c["signal"]:
            name = "SIGINT" if c["signal"] == 2 else "SIGTERM"
            assert f"interrupted ({name})" in c["log"], (c["name"], c["log"][-500:])


def test_no_process_is_left_behind(cases: list[dict[str, Any]]) -> None:
    for c in cases:
        assert c["left_behind"] == [], (c["name"], c["signal"], c["left_behind"])
    workers = [c for c in cases if c["name"] == "sweep-jobs2" and "continue with" in c["log"]]
    for c in workers:  # a sweep stopped mid-runs had started its workers, and they are gone
        assert len(c["processes"]) >= 2, c


def test_a_sweep_stops_its_workers_within_two_seconds(cases: list[dict[str, Any]]) -> None:
    """From the signal to the last worker's end (the sweep itself then reports and leaves:
    under a second more on a quiet machine, a few on one as busy as a shared CI runner)."""
    for c in cases:
        if c["name"].startswith("sweep") and "continue with" in c["log"]:
            assert c["seconds_to_workers_gone"] < 2.0, (c["name"], c["seconds_to_workers_gone"])
            assert c["seconds_to_exit"] < 10.0, (c["name"], c["seconds_to_exit"])


def test_no_finished_result_is_lost(cases: list[dict[str, Any]]) -> None:
    for c in cases:
        kept = c["kept"]
        if "claimed" in kept and "on_disk" in kept:
            assert kept["on_disk"] == kept["claimed"], (c["name"], kept)
        if c["name"].startswith("sweep") and "continue with" in c["log"]:
            assert kept["resume_exit"] == 0, kept.get("resume_log", "")[-1000:]
            assert kept["final_runs"] == kept["total"], kept
            if kept["claimed"]:
                assert f"{kept['claimed']} already done" in kept["resume_log"]
        if c["name"] == "train" and "resume_exit" in kept:
            assert kept["resume_exit"] == 0 and kept["resume_status"] == "complete", kept
        if c["name"] == "landscape" and c["exit"] in (130, 143):
            named = re.findall(r"landscape_\w+\.png", c["log"])
            assert set(named) <= set(kept["pngs"]), (named, kept["pngs"])
