"""Instructions executed by cases of ``benchmarks/fit_speed.py``, counted by valgrind's callgrind.

On a shared machine CPU seconds move by 5-10 % from run to run (other processes evict the
caches), which is the size of the difference the "fit within 1.05x of a plain loop" target is
about. Instructions do not move with the load. Each case runs in a fresh process under
``valgrind --tool=callgrind --instr-atstart=no``: it is built and run once untimed (imports,
first calls), then counting is switched on (``callgrind_control -i on``) for exactly one run.
Instructions are not time (a cache miss costs no instruction), so this complements
``fit_speed.py``; it does not replace it. Slow: each case takes minutes under valgrind.

Run::

    uv run python benchmarks/instructions.py \\
        ["plain loop, Adam fused" "fit, engine autograd" ...]   # fit_speed.py case names
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_PAIRS = [
    ("fit, engine autograd", "plain loop, Adam fused"),
    ("fit autograd, SGD", "plain loop, SGD"),
]


def child(name: str, handshake: Path) -> None:
    """Build case ``name``, run it once, then wait for counting and run it again."""
    sys.path.insert(0, str(Path(__file__).parent))
    import fit_speed
    import torch
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    torch.set_num_threads(1)
    threadpool_limits(limits=1, user_api="blas")
    cases = {c.name: c for c in [*fit_speed.default_cases(), *fit_speed.wide_cases()]}
    make = cases[name].make
    make()()  # imports and first-call costs, not counted
    run = make()
    (handshake / "ready").touch()
    while not (handshake / "go").exists():
        time.sleep(0.1)
    run()
    (handshake / "done").touch()
    while not (handshake / "stop").exists():
        time.sleep(0.1)


def count(name: str) -> int:
    """Instructions of one run of case ``name``."""
    with tempfile.TemporaryDirectory() as tmp:
        handshake, out = Path(tmp), Path(tmp) / "callgrind.out"
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--child", name, "--handshake", tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def wait_for(flag: str) -> None:
            while not (handshake / flag).exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"case {name!r} ended early under valgrind")
                time.sleep(0.5)

        wait_for("ready")
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True,
                       capture_output=True)  # fmt: skip
        (handshake / "go").touch()
        wait_for("done")
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True,
                       capture_output=True)  # fmt: skip
        (handshake / "stop").touch()
        proc.wait()
        summary = subprocess.run(["callgrind_annotate", str(out)], check=True,
                                 capture_output=True, text=True).stdout  # fmt: skip
    match = re.search(r"^([\d,]+) .*PROGRAM TOTALS", summary, re.MULTILINE)
    assert match, "no total in callgrind's output"
    return int(match.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("cases", nargs="*", help="fit_speed.py case names, in pairs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--handshake", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.handshake)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: this benchmark counts with callgrind")
    names = args.cases or [n for pair in DEFAULT_PAIRS for n in pair]
    if len(names) % 2:
        raise SystemExit("give case names in pairs: measured, reference")
    load = os.getloadavg()[0]
    for measured, reference in zip(names[::2], names[1::2], strict=True):
        a, b = count(measured), count(reference)
        print(f"{measured}: {a:,} instructions; {reference}: {b:,}; ratio {a / b:.3f}")
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}, load average {load:.1f} (counts do not depend on it)"
    )


if __name__ == "__main__":
    main()
