"""How long each command takes as a whole process, against the floor of ``import torch``.

Run: uv run python benchmarks/startup.py [--repeats 5]

Every command runs as a fresh process, the commands taken in turn round after round (so a
change in the machine's load touches them all), after one warm-up round that is not counted
(it fills the bytecode cache and the page cache). Per command: the best wall-clock seconds, the
best CPU seconds (user + system: what an idle machine's wall time would be for this
single-threaded start), the peak resident memory of the process (``ru_maxrss`` from
``os.wait4``; this script imports nothing heavy, since a child's peak counts its parent's memory
at the fork), and the ratio of each to ``python -c "import torch"``. The targets (issue 15):
each command within 1.5x of the floor, ``looplab --help`` under 0.3 s. The default job's line
says how long its training took, as the command prints it, for the README's claim. Two more
lines show where the rest of ``train``'s start goes: ``torch._dynamo``, which ``torch.optim``
imports, and ``train --impl scratch``, whose optimizers are looplab's own.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

HELP_TARGET_S = 0.3
RATIO_TARGET = 1.5


@dataclass
class Command:
    name: str
    argv: list[str]
    target: str = "ratio"  # "ratio": within 1.5x of the floor; "help": under 0.3 s; "": none
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    output: str = ""
    env: dict[str, str] | None = None  # None: this process's environment


def run_once(command: Command, cwd: Path) -> None:
    """One run as its own process: wall and CPU seconds and peak memory of that process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            command.argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=command.env
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        command.wall.append(time.perf_counter() - started)
        out.seek(0)
        command.output = out.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"{command.name} failed ({process.returncode}):\n{command.output}")
    command.cpu.append(usage.ru_utime + usage.ru_stime)
    command.rss_mib.append(usage.ru_maxrss / 1024)  # Linux reports KiB


def commands(work: Path) -> list[Command]:
    python = sys.executable
    looplab = str(Path(python).with_name("looplab"))
    ready = str(work / "runs" / "ready")
    return [
        Command("python -c 'import torch' (floor)", [python, "-c", "import torch"], target=""),
        Command("looplab --help", [looplab, "--help"], target="help"),
        Command("looplab train --epochs 1", [looplab, "train", "--epochs", "1", "--out", "runs"]),
        Command("looplab predict", [looplab, "predict", ready, "--input", "rows.csv"]),
        Command("looplab runs", [looplab, "runs", "runs"]),
        Command("looplab datasets", [looplab, "datasets"]),
        Command(
            "looplab summary", [looplab, "summary", "--in", "2", "--hidden", "16,16", "--out", "1"]
        ),
        Command("looplab train (default job)", [looplab, "train", "--out", "runs"], target=""),
        # where the rest goes: torch.optim imports torch._dynamo (its constructor, step and
        # zero_grad are wrapped to do so); the from-scratch optimizers do not use torch.optim
        Command(
            "python -c 'import torch, torch._dynamo'",
            [python, "-c", "import torch._dynamo"],
            target="",
        ),
        Command(
            "looplab train --epochs 1 --impl scratch",
            [looplab, "train", "--epochs", "1", "--impl", "scratch", "--out", "runs"],
            target="",
        ),
    ]


def verdict(command: Command, floor: Command) -> str:
    """The target against wall seconds, and against CPU seconds (what an idle machine's wall
    seconds would be: on a busy one, waiting for a core inflates the wall clock)."""
    said = []
    for name, figures, floor_figures in (
        ("wall", command.wall, floor.wall),
        ("CPU", command.cpu, floor.cpu),
    ):
        if command.target == "help":
            met = min(figures) < HELP_TARGET_S
        else:
            met = min(figures) / min(floor_figures) <= RATIO_TARGET
        said.append(f"{name} {'met' if met else 'NOT MET'}")
    return ", ".join(said)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="counted rounds (best is shown)")
    parser.add_argument(
        "--before",
        metavar="SRC",
        help="also time the looplab commands with looplab imported from SRC (another checkout's "
        "src/ directory, e.g. from `git worktree add`), interleaved with this one's",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="looplab-startup-") as tmp:
        work = Path(tmp)
        (work / "rows.csv").write_text("x1,x2\n0.5,0.2\n1.0,-0.3\n")
        looplab = str(Path(sys.executable).with_name("looplab"))
        setup = [looplab, "train", "--epochs", "1", "--out", "runs", "--name", "ready"]
        subprocess.run(setup, cwd=work, check=True, capture_output=True)
        todo = commands(work)
        if args.before:
            env = {**os.environ, "PYTHONPATH": str(Path(args.before).resolve())}
            before = [
                Command(f"{c.name} [before]", c.argv, "", env=env)
                for c in todo
                if "looplab" in c.name and "scratch" not in c.name
            ]
            subprocess.run(
                [*setup[:-1], "ready-before"], cwd=work, check=True, env=env, capture_output=True
            )
            for c in before:  # a run the old code wrote, for its predict
                c.argv = [a.replace("ready", "ready-before") for a in c.argv]
            todo += before
        for round_ in range(args.repeats + 1):
            for command in todo:
                run_once(command, work)
                if round_ == 0:  # the warm-up round is not counted
                    command.wall, command.cpu, command.rss_mib = [], [], []
    load_after = os.getloadavg()
    floor = todo[0]
    cpu = platform.processor() or platform.machine()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores ({cpu}), "
        f"torch {version('torch')}, Python {platform.python_version()}; load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; best of {args.repeats}"
    )
    if load_before[0] > (os.cpu_count() or 1):
        print(
            "(the load is above the core count: wall seconds are inflated by waiting for a core; "
            "CPU seconds are close to what an idle machine's wall seconds would be)"
        )
    print()
    print("| command | wall s | x floor | CPU s | x floor | peak MiB | x floor | target |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for c in todo:
        wall, cpu_s, rss = min(c.wall), min(c.cpu), min(c.rss_mib)
        fw, fc, fr = min(floor.wall), min(floor.cpu), min(floor.rss_mib)
        target = {"help": f"< {HELP_TARGET_S} s", "ratio": f"<= {RATIO_TARGET}x"}.get(c.target)
        goal = f"{target}: {verdict(c, floor)}" if target else ""
        print(
            f"| {c.name} | {wall:.2f} | {wall / fw:.2f} | {cpu_s:.2f} | {cpu_s / fc:.2f} | "
            f"{rss:.0f} | {rss / fr:.2f} | {goal} |"
        )
    default = next(c for c in todo if c.name.endswith("(default job)"))
    said = re.search(r"(\d+) epochs in ([\d.]+) s of training and validation", default.output)
    if said:
        print()
        print(
            f"default job: {said[1]} epochs in {said[2]} s of training and validation (last "
            f"run), the whole command {min(default.wall):.1f} s (best), "
            f"{max(default.wall):.1f} s (worst)"
        )


if __name__ == "__main__":
    main()
