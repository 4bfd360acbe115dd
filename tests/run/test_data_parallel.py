"""Data-parallel training on 2 spawned processes (gloo, joined through a FileStore: no port),
against one process.

Oracles: the same loop on one process with the global batch (2 ranks x 32 rows = 1 x 64), and
an uninterrupted 2-rank run for the resumed ones (bitwise). Each test runs one driver job
(``dp_driver.py``) in a subprocess; together they take ~40 s on 2 busy cores.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from looplab import loop
from looplab.data.batches import Batches
from looplab.models import TaskLoss

DRIVER = Path(__file__).with_name("dp_driver.py")
sys.path.insert(0, str(DRIVER.parent))
dp_driver = importlib.import_module("dp_driver")  # its data and network are the oracle's too


def drive(mode: str, work: Path) -> str:
    out = subprocess.run(
        [sys.executable, str(DRIVER), mode, str(work)], capture_output=True, text=True,
        timeout=400, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def one_process(dtype: torch.dtype, norm: bool = False) -> tuple[nn.Module, list[dict[str, float]]]:
    """The oracle: one process, batches of the global 64 rows, the same generator seed."""
    X, y = dp_driver.data(dtype)
    model = dp_driver.network(dtype, norm)
    batches = Batches(X, y, dp_driver.GLOBAL_BATCH, generator=torch.Generator().manual_seed(3))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    history = loop.fit(model, batches, TaskLoss("binary"), opt, epochs=2, task="binary")
    return model, history.rows


def largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def test_two_ranks_of_32_rows_train_as_one_process_of_64(tmp_path: Path) -> None:
    """float64 to 1e-6, float32 to 1e-5, with gradient accumulation too (2 ranks x 2 x 16);
    batch norm is the exception: each rank normalizes with its own rows' statistics."""
    assert drive("kernel", tmp_path) == "exit 0"
    saved = {f.stem: torch.load(f, weights_only=True) for f in tmp_path.glob("*.pt")}
    tolerance = {"float64": 1e-6, "float32": 1e-5, "accumulate": 1e-6}
    for case, dtype in (("float64", torch.float64), ("float32", torch.float32),
                        ("accumulate", torch.float64)):  # fmt: skip
        reference, rows = one_process(dtype)
        ranks = [saved[f"{case}-rank{r}"] for r in range(2)]
        # both ranks hold the same weights (DDP averaged their gradients every step)
        assert largest_difference(ranks[0]["params"], ranks[1]["params"]) == 0.0, case
        got = largest_difference(ranks[0]["params"], reference.state_dict())
        assert got < tolerance[case], (case, got)
        # every rank's history is the whole run's: metric sums all-reduced, weighted by rows
        for mine, theirs in zip(ranks[1]["rows"], rows, strict=True):
            for key in ("train_loss", "train_accuracy"):
                assert mine[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-7), (case, key)
    # and the comparison can fail: 20 steps of 32 rows on one process end elsewhere
    X, y = dp_driver.data(torch.float64)
    half = dp_driver.network(torch.float64)
    loop.fit(half, Batches(X, y, 32, generator=torch.Generator().manual_seed(3)),
             TaskLoss("binary"), torch.optim.Adam(half.parameters(), lr=0.01), epochs=1,
             task="binary")  # fmt: skip
    assert largest_difference(saved["float64-rank0"]["params"], half.state_dict()) > 1e-3
    # Without SyncBatchNorm each rank's batch norm uses the mean and variance of its own 32
    # rows, not of the global 64: the run differs from one process (what --sync-bn changes,
    # on CUDA); DDP still keeps the ranks' weights equal.
    ranks = [saved[f"batchnorm-rank{r}"]["params"] for r in range(2)]
    learned = [{k: v for k, v in r.items() if "running" not in k and "batches" not in k}
               for r in ranks]  # fmt: skip
    assert largest_difference(learned[0], learned[1]) == 0.0
    reference, _ = one_process(torch.float64, norm=True)
    plain = {k: v for k, v in reference.state_dict().items() if k in learned[0]}
    assert largest_difference(learned[0], plain) > 1e-4


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state: dict[str, Any] = torch.load(run_dir / "model.pt", weights_only=True)
    return dict(state["state_dict"])


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def history_columns(run_dir: Path, n: int = 5) -> list[str]:
    """epoch, losses and accuracies of every row (the timings differ from run to run)."""
    lines = (run_dir / "history.csv").read_text().splitlines()
    return [",".join(line.split(",")[:n]) for line in lines]


@pytest.mark.slow  # three 2-rank jobs, one signalled and one killed: ~45 s; CI runs it
def test_interrupted_and_killed_jobs_resume_bitwise_and_dropout_is_per_rank(
    tmp_path: Path,
) -> None:
    """One job of 2 ranks: a reference run; a run where rank 1 alone catches SIGINT at step
    13 (both stop after step 16, the next agreement, and rank 0 saves a checkpoint), resumed;
    a run SIGKILLed on both ranks after step 23, resumed from its step-20 checkpoint (which
    holds every rank's dropout generator and both ranks' running metric sums)."""
    assert drive("runs", tmp_path) == "killed SIGKILL"
    outcomes = [(tmp_path / f"signalled-rank{r}.txt").read_text() for r in range(2)]
    assert outcomes == ["interrupted 2 ckpt-e0001-b000006.pt"] * 2
    assert same_weights(tmp_path / "reference", tmp_path / "signalled")
    assert history_columns(tmp_path / "reference") == history_columns(tmp_path / "signalled")
    assert drive("resume", tmp_path) == "exit 0"
    assert same_weights(tmp_path / "reference", tmp_path / "killed")
    assert history_columns(tmp_path / "reference") == history_columns(tmp_path / "killed")
    # only rank 0 wrote: one run directory each
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [
        "killed", "reference", "signalled"
    ]  # fmt: skip
    # dropout: each rank its own masks, reproducibly (rank r seeds its generator with seed + r)
    draws = [torch.load(tmp_path / f"draw-rank{r}.pt") for r in range(2)]
    assert not torch.equal(draws[0], draws[1])
    for rank, draw in enumerate(draws):
        torch.manual_seed(0 + rank)
        assert torch.equal(draw, torch.rand(5))
