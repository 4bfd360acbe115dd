"""The thread count of a run: one for small work, more only on idle cores; set while training."""

from __future__ import annotations

import multiprocessing
import time

import pytest
import torch

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.loop.events import Callback
from looplab.loop.state import LoopState
from looplab.models.mlp import ModelSpec, build_model
from looplab.run import threads
from looplab.run.build import model_spec
from looplab.run.fit import fit


def test_small_work_gets_one_thread_large_work_the_idle_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default_job = build_model(ModelSpec(2, 1, (16, 16)), seed=0)  # 337 parameters
    wide = build_model(ModelSpec(64, 10, (1024, 1024)), seed=0)  # 1.1M parameters
    assert threads.step_work(default_job, 32) == 337 * 32
    monkeypatch.setattr(threads, "busy_cores", lambda: 0.0)
    assert threads.auto_threads(default_job, 32, cores=2) == 1
    assert threads.auto_threads(default_job, 4096, cores=2) == 1  # 1.4M: still small
    assert threads.auto_threads(wide, 32, cores=2) == 2
    monkeypatch.setattr(threads, "busy_cores", lambda: 2.0)  # two programs busy on 2 cores
    assert threads.auto_threads(wide, 32, cores=2) == 1
    monkeypatch.setattr(threads, "busy_cores", lambda: 0.4)
    assert threads.auto_threads(wide, 32, cores=2) == 2


def spin() -> None:
    while True:
        pass


def test_busy_cores_sees_processes_that_spin() -> None:
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(2)]
    for p in spinners:
        p.start()
    try:
        time.sleep(0.3)
        assert threads.busy_cores(samples=20) >= 1.5
    finally:
        for p in spinners:
            p.terminate()
            p.join()


class ThreadsDuringTraining(Callback):
    def __init__(self) -> None:
        self.seen: set[int] = set()

    def on_batch_end(self, state: LoopState, epoch: int, batch: int, loss: torch.Tensor) -> None:
        self.seen.add(torch.get_num_threads())


@pytest.mark.parametrize(("asked", "during"), [(2, 2), (0, 1)])  # 0: auto, 1 for the default job
def test_the_count_is_set_while_training_and_restored_after(asked: int, during: int) -> None:
    config = Config(epochs=2, n=100, device="cpu", threads=asked).validate()
    data = load_prepared(config)
    watcher = ThreadsDuringTraining()
    before = torch.get_num_threads()
    fit(build_model(model_spec(config, data), seed=0), data, config, [watcher])
    assert watcher.seen == {during}
    assert torch.get_num_threads() == before


def test_torch_threads_restores_after_an_error() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), threads.torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
        raise RuntimeError
    assert torch.get_num_threads() == before


def test_this_process_own_running_threads_are_not_busy_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """torch's OpenMP workers spin after a parallel region: they are this process's, not
    another program's (before, auto took 1 thread on an idle machine right after a 2-thread
    step, 1.6-1.8x slower than 2 on a 1024-wide MLP)."""
    assert threads.own_running_threads() >= 1  # at least the thread asking
    monkeypatch.setattr(threads, "own_running_threads", lambda: 10_000)  # all of them ours
    assert threads.busy_cores(samples=2) == 0.0
