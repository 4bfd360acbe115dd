"""Driver for the kill-and-resume and signal tests: runs `looplab train` in forked children.

Imports torch and looplab once, then forks a child per training process, so each kill costs
milliseconds rather than a fresh interpreter. The parent never runs torch ops before forking.

    python kill_driver.py kill WORKDIR SEED     # a chain of SIGKILLs, each followed by --resume
    python kill_driver.py signals WORKDIR       # SIGINT, SIGTERM and a double SIGINT

Prints one JSON object with what happened; the tests check it and compare the run directories.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import matplotlib.pyplot  # noqa: F401 - imported once here, not in every child
import torch
import torch._dynamo  # torch.optim imports it on first use: ~5 s per child otherwise

import looplab.cli
import looplab.loop.kernel as loop_module
import looplab.pipeline
import looplab.report.html
import looplab.watch.checkpointer as checkpointer_module
from looplab.files import write_atomic
from looplab.watch.checkpoint import CHECKPOINT_DIR, list_checkpoints

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

P = ParamSpec("P")
R = TypeVar("R")

ARGS = [
    "train", "--dataset", "moons", "--n", "300", "--epochs", "20", "--batch-size", "16",
    "--dropout", "0.2", "--checkpoint-steps", "7", "--checkpoint-every", "1",
    "--keep-checkpoints", "2", "--device", "cpu", "--monitor",
]  # fmt: skip


def argv(work: Path, name: str) -> list[str]:
    return [*ARGS, "--out", str(work), "--name", name]


def short(args: list[str]) -> list[str]:
    """The same run with 3 epochs: the signal tests need a run, not a long one."""
    i = args.index("--epochs")
    return [*args[: i + 1], "3", *args[i + 2 :]]


def suicide() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def on_call(n: int, before: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``before`` (a function) so that its n-th call kills the process instead."""
    calls = {"k": 0}

    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        calls["k"] += 1
        if calls["k"] == n:
            suicide()
        return before(*args, **kwargs)

    return wrapped


def replace(owner: object, name: str, value: object) -> None:
    """Put ``value`` in place of ``owner.name``: a function is patched where it is looked up
    (the module that imported it, or the class), not where it is defined."""
    setattr(owner, name, value)


def die_on_call(n: int, owner: object, name: str) -> None:
    """The n-th call of ``owner.name`` kills the process instead."""
    replace(owner, name, on_call(n, getattr(owner, name)))


def half_write_then_die(n: int) -> Callable[[Path, bytes], None]:
    """A checkpoint write that dies on its n-th call after writing half the temporary file."""
    real = write_atomic
    calls = {"k": 0}

    def write(path: Path, data: bytes) -> None:
        calls["k"] += 1
        if calls["k"] == n:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
            suicide()
        real(path, data)

    return write


def hook(kind: str, n: int) -> None:
    """Arrange (in the child) to die at a chosen moment."""
    if kind == "checkpoint-write":  # temporary file half written
        replace(checkpointer_module, "write_atomic", half_write_then_die(n))
    elif kind == "checkpoint-rename":  # file complete, not yet renamed
        os.replace = on_call(n, os.replace)
    elif kind == "rotation":  # new checkpoint renamed, old ones not yet removed
        die_on_call(n, checkpointer_module, "rotate")
    elif kind == "validation":
        die_on_call(n, loop_module, "evaluate")
    elif kind == "step":  # after backward, before the optimizer step
        die_on_call(n, torch.optim.Adam, "step")
    elif kind == "report":  # final checkpoint written, report not yet
        html = looplab.report.html  # the pipeline imports write_report when it needs it
        html.write_report = on_call(1, html.write_report)


def spawn(args: list[str], log: Path, kind: str | None = None, n: int = 0) -> int:
    pid = os.fork()
    if pid == 0:  # child
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            torch.set_num_threads(1)
            if kind:
                hook(kind, n)
            code = looplab.cli.run(args)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return pid


def wait(pid: int) -> str:
    """'killed', or 'exit N'."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return "killed" if sig == signal.SIGKILL else f"signal {sig}"
    return f"exit {os.WEXITSTATUS(status)}"


def run_to_end(args: list[str], log: Path) -> tuple[str, float]:
    started = time.perf_counter()
    outcome = wait(spawn(args, log))
    return outcome, time.perf_counter() - started


def kill_chain(work: Path, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    log = work / "log.txt"
    ref, ref_seconds = run_to_end(argv(work, "reference"), log)
    run = argv(work, "killed")
    resume = [*ARGS, "--resume", str(work / "killed")]
    events: list[dict[str, object]] = []
    # First a kill that leaves checkpoints behind, then targeted and random kills, each resumed.
    targeted = [
        ("checkpoint-write", 3), ("validation", 2), ("step", 9), ("checkpoint-rename", 4),
        ("rotation", 2), ("checkpoint-write", 2), ("validation", 1), ("report", 1),
    ]  # fmt: skip
    plan: list[tuple[str, int]] = [targeted[0]]
    randoms = [("random", 0)] * 6
    middle = targeted[1:-1] + randoms
    rng.shuffle(middle)
    plan += [*middle, targeted[-1]]
    for i, (kind, n) in enumerate(plan):
        args = run if i == 0 else resume
        if kind == "random":
            pid = spawn(args, log)
            # a random moment within the first 1/12 of a whole run's time: the 6 random kills
            # and the targeted ones together use up well under the run, so every kill lands
            # before the run could finish, however fast the machine is
            time.sleep(rng.uniform(0.0, ref_seconds / 12))
            os.kill(pid, signal.SIGKILL)
        else:
            pid = spawn(args, log, kind, n)
        outcome = wait(pid)
        ckpts = [p.name for p in list_checkpoints(work / "killed" / CHECKPOINT_DIR)]
        events.append({"kind": kind, "n": n, "outcome": outcome, "checkpoints": ckpts})
    final, _ = run_to_end(resume, log)
    return {"reference": ref, "reference_seconds": ref_seconds, "events": events, "final": final}


def signals(work: Path) -> dict[str, object]:
    log = work / "log.txt"
    ref, _ = run_to_end(short(argv(work, "reference")), log)
    out: dict[str, object] = {"reference": ref}
    for name, sigs in (("sigint", [signal.SIGINT]), ("sigterm", [signal.SIGTERM]),
                       ("double", [signal.SIGINT, signal.SIGINT])):  # fmt: skip
        run_dir = work / name
        child_log = work / f"{name}.log"
        kind = "slow-write" if name == "double" else None
        pid = os.fork()
        if pid == 0:
            fd = os.open(child_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            torch.set_num_threads(1)
            if kind:
                real_fsync = os.fsync

                def slow_fsync(
                    fd: FileDescriptorLike,
                    real_fsync: Callable[[FileDescriptorLike], None] = real_fsync,
                ) -> None:
                    if (work / "armed").exists():  # after the first signal: dawdle mid-write
                        (work / "writing").touch()
                        time.sleep(0.3)  # the second Ctrl-C lands in here
                    real_fsync(fd)

                os.fsync = slow_fsync
            os._exit(looplab.cli.run(short(argv(work, name))))
        ckpt_dir = run_dir / CHECKPOINT_DIR
        deadline = time.time() + 30
        while len(list_checkpoints(ckpt_dir)) < 2 and time.time() < deadline:
            time.sleep(0.005)
        before = [p.name for p in list_checkpoints(ckpt_dir)]
        marker = work / "writing"
        if len(sigs) > 1:
            (work / "armed").touch()
        os.kill(pid, sigs[0])
        if len(sigs) > 1:
            while not marker.exists() and time.time() < deadline:
                time.sleep(0.002)
            # what is on disk while the interrupted write is under way (a regular checkpoint
            # may have landed between the first snapshot and the first signal)
            before = [p.name for p in list_checkpoints(ckpt_dir)]
            os.kill(pid, sigs[1])
        outcome = wait(pid)
        after = [p.name for p in list_checkpoints(ckpt_dir)]
        if after:  # kept for the test: the resumed run rotates it away
            shutil.copy(ckpt_dir / after[-1], work / f"{name}-newest.pt")
        leftovers = sorted(p.name for p in ckpt_dir.glob(".*.tmp"))
        resumed, _ = run_to_end(["train", "--resume", str(run_dir)], work / f"{name}-resume.log")
        out[name] = {
            "outcome": outcome, "before": before, "after": after, "tmp_files": leftovers,
            "log": child_log.read_text(), "resumed": resumed,
        }  # fmt: skip
    return out


if __name__ == "__main__":
    mode, work = sys.argv[1], Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    result = kill_chain(work, int(sys.argv[3])) if mode == "kill" else signals(work)
    print(json.dumps(result))
