"""Driver for the every-command signal test: SIGINT and SIGTERM at seeded random moments.

Imports torch and looplab once, then forks one child per command run (as the console script
would run it: SIGTERM handler, ``looplab.cli.run``, flush, ``os._exit``), so a case costs its
own work, not an interpreter start. For each case it records the exit, every process the
command started (polled from /proc while it runs) and which of them outlived it, the time from
the signal to the exit, and what the command left on disk.

    python signal_driver.py WORKDIR SEED

Prints one JSON object; tests/run/test_signals.py checks it.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib.pyplot  # noqa: F401 - imported once here, not in every child
import torch
import torch._dynamo

import looplab.cli
import looplab.pipeline
import looplab.report.html


def commands(work: Path) -> dict[str, list[str]]:
    """Each long command, sized to run a few seconds on a busy 2-core machine."""
    out = str(work / "out")
    return {
        "train": ["train", "--n", "1000", "--epochs", "20", "--checkpoint-every", "1",
                  "--out", out],
        "sweep-jobs2": ["sweep", "--vary", "lr=0.001,0.01,0.1", "--seeds", "2",
                        "--epochs", "4", "--n", "400", "--jobs", "2", "--out", out],
        "sweep-jobs1": ["sweep", "--vary", "lr=0.001,0.1", "--seeds", "2", "--epochs",
                        "4", "--n", "400", "--out", out],
        "compare": ["compare", "--seeds", "2", "--epochs", "5", "--batch-sizes", "4,16,full",
                    "--out", out],
        "lr-find": ["lr-find", "--steps", "6000", "--end-lr", "0.001", "--out", out],
        "landscape": ["landscape", str(work / "base" / "m"), "--resolution", "81",
                      "--out", str(work / "out" / "land")],
        "regularize": ["regularize", "--epochs", "20", "--out", out],
    }  # fmt: skip


def child(args: list[str], log: Path) -> int:
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            torch.set_num_threads(1)
            for sig in (signal.SIGINT, signal.SIGTERM):  # as looplab.cli.main does
                signal.signal(sig, looplab.cli._terminate)
            code = looplab.cli.run(args)
        except BaseException:
            import traceback

            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return pid


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, grandchildren...), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has ended


def run_case(name: str, args: list[str], sig: int, delay: float, work: Path) -> dict[str, Any]:
    log = work / f"{name}-{sig}.log"
    started = time.perf_counter()
    pid = child(args, log)
    seen: set[int] = set()
    while time.perf_counter() - started < delay:
        seen |= descendants(pid)
        time.sleep(0.02)
    sent = time.perf_counter()
    finished_first = os.waitpid(pid, os.WNOHANG) != (0, 0)
    status = 0
    code: int | str
    workers_gone = 0.0
    if finished_first:
        code = "finished first"
    else:
        os.kill(pid, sig)
        while True:
            seen |= descendants(pid)
            if not workers_gone and not any(alive(p) for p in seen):
                workers_gone = time.perf_counter() - sent  # every process it started has ended
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.01)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else f"signal {os.WTERMSIG(status)}"
    exited = time.perf_counter()
    time.sleep(0.3)  # a straggler would still be there
    return {
        "name": name,
        "signal": sig,
        "delay": delay,
        "exit": code,
        "seconds_to_exit": exited - sent,
        "seconds_to_workers_gone": workers_gone,
        "processes": sorted(seen),
        "left_behind": sorted(p for p in seen if alive(p)),
        "log": log.read_text(),
    }


def kept(case: dict[str, Any], work: Path) -> dict[str, Any]:
    """What the interrupted command said it kept, and what is on disk."""
    text = case["log"]
    out: dict[str, Any] = {}
    where = re.search(r"(?:kept in|saved in|are in) (\S+?)[; (]", text.replace("\n", " "))
    if where:
        folder = where.group(1).rstrip(";,")
        out["dir"] = str(Path(folder).parent) if folder.endswith(".csv") else folder
    count = re.search(r"(\d+) of (\d+) (?:runs|remedies|steps)", text) or re.search(
        r"after (\d+) of (\d+) steps", text
    )
    if count:
        out["claimed"], out["total"] = int(count.group(1)), int(count.group(2))
    return out


def on_disk(name: str, folder: Path) -> int:
    """How many finished results ``folder`` holds for a command."""
    if name.startswith("sweep"):
        return len(list((folder / "points").glob("*.json")))
    table = {"compare": "curves.csv", "regularize": "results.csv", "lr-find": "lr_find.csv"}
    if not (folder / table[name]).exists():  # stopped before the first result
        return 0
    with (folder / table[name]).open() as f:
        rows = list(csv.DictReader(f))
    if name == "compare":
        return len({(r["batch_size"], r["seed"]) for r in rows})
    return len(rows)


def main(work: Path, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    base = work / "base"
    pid = child(["train", "--epochs", "3", "--n", "300", "--out", str(base), "--name", "m"],
                work / "base.log")  # fmt: skip
    os.waitpid(pid, 0)
    cases = []
    for name, args in commands(work).items():
        for sig in (signal.SIGINT, signal.SIGTERM):
            case = run_case(name, args, sig, rng.uniform(0.5, 4.0), work)
            info = kept(case, work)
            if "dir" in info and name != "landscape" and name != "train":
                info["on_disk"] = on_disk(name, Path(info["dir"]))
            if name.startswith("sweep") and "dir" in info:  # --resume finishes only the rest
                log = work / f"{name}-{sig}-resume.log"
                resume = child(["sweep", "--resume", info["dir"]], log)
                _, status = os.waitpid(resume, 0)
                info["resume_exit"] = os.WEXITSTATUS(status)
                info["resume_log"] = log.read_text()
                with (Path(info["dir"]) / "runs.csv").open() as f:
                    info["final_runs"] = sum(1 for _ in csv.DictReader(f))
            if name == "train":
                found = re.search(r"resume with: looplab train --resume (\S+)", case["log"])
                if found:
                    resume = child(["train", "--resume", found.group(1)], work / "tr.log")
                    _, status = os.waitpid(resume, 0)
                    info["resume_exit"] = os.WEXITSTATUS(status)
                    status_file = Path(found.group(1)) / "status.json"
                    info["resume_status"] = json.loads(status_file.read_text())["status"]
            if name == "landscape":
                info["pngs"] = sorted(p.name for p in (work / "out" / "land").glob("*.png"))
            case["kept"] = info
            cases.append(case)
    return {"cases": cases}


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    print(json.dumps(main(folder, int(sys.argv[2]))))
