"""What the first ``torch.optim`` optimizer of a process costs: it imports ``torch._dynamo``.

``torch.optim.Optimizer.add_param_group`` (and ``zero_grad``, ``state_dict``,
``load_state_dict``) are wrapped in ``torch._disable_dynamo``, which imports ``torch._dynamo``
(about 900 modules) the first time one of them runs, that is when the first optimizer is made.
Each case runs in a fresh process (``python -c``), in turn, best of ``--repeats``; CPU and wall
seconds of what follows ``import torch``, and the peak RSS of the process:

- ``import torch`` alone (the floor);
- ``import torch._dynamo`` after it;
- ``torch.optim.Adam`` made and stepped once (default, then ``fused=True``);
- looplab's fused numpy Adam (the manual engine's) made and stepped once, and looplab's
  from-scratch Adam: neither is a ``torch.optim.Optimizer``, neither imports ``torch._dynamo``.

Run::

    uv run python benchmarks/first_optimizer.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime

PRELUDE = """
import json, resource, sys, time
import torch
cpu, wall = time.process_time(), time.perf_counter()
p = [torch.nn.Parameter(torch.zeros(16, 16))]
"""
EPILOGUE = """
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "dynamo": "torch._dynamo" in sys.modules}))
"""
CASES = {
    "import torch (nothing after it)": "pass",
    "import torch._dynamo": "import torch._dynamo",
    "torch.optim.Adam, first made and stepped": (
        "o = torch.optim.Adam(p, lr=0.01); p[0].grad = torch.ones(16, 16); o.step()"
    ),
    "torch.optim.Adam(fused=True), first made and stepped": (
        "o = torch.optim.Adam(p, lr=0.01, fused=True); p[0].grad = torch.ones(16, 16); o.step()"
    ),
    "looplab fused numpy Adam (manual engine)": (
        "from looplab.manual.flat import FlatParameters\n"
        "from looplab.manual.fused import FusedAdam\n"
        "o = FusedAdam(FlatParameters(p), lr=0.01); p[0].grad = torch.ones(16, 16); o.step()"
    ),
    "looplab from-scratch Adam (--impl scratch)": (
        "from looplab.manual.optim import Adam\n"
        "o = Adam(p, lr=0.01); p[0].grad = torch.ones(16, 16); o.step()"
    ),
}


def run(code: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PRELUDE + code + EPILOGUE],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    load = os.getloadavg()[0]
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeats):
        for name, code in CASES.items():
            got = run(code)
            if name not in best or got["cpu"] < best[name]["cpu"]:
                best[name] = got
    table = Table(title=f"After import torch, in a fresh process (best of {args.repeats})")
    for col in ("case", "CPU s", "wall s", "peak RSS MB", "imports torch._dynamo"):
        table.add_column(col, justify="left" if col == "case" else "right")
    for name, got in best.items():
        table.add_row(name, f"{got['cpu']:.3f}", f"{got['wall']:.3f}", f"{got['rss_mb']:.0f}",
                      "yes" if got["dynamo"] else "no")  # fmt: skip
    Console(width=120).print(table)
    print(
        f"{os.cpu_count()} cores; {datetime.now():%Y-%m-%d %H:%M}; load average {load:.1f} at the "
        f"start, {os.getloadavg()[0]:.1f} at the end (wall seconds include waiting for a core)"
    )


if __name__ == "__main__":
    main()
