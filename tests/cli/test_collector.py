"""The collector is off while a command starts, on while it trains, and as it was afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from looplab.cli import run
from looplab.cli.collector import PausedCollector
from looplab.config import Config
from looplab.loop.events import Callback
from looplab.loop.history import Row
from looplab.loop.state import LoopState
from looplab.pipeline import train


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was_on = gc.isenabled()
    yield
    gc.enable() if was_on else gc.disable()


def test_paused_until_resumed_or_the_end_and_left_off_if_it_was_off() -> None:
    gc.enable()
    with PausedCollector() as collector:
        assert not gc.isenabled()
        made: list[list[int]] = [
            []
        ]  # made during the start: frozen when the collector comes back on
        collector.resume()
        assert gc.isenabled() and gc.get_freeze_count() > 0
        assert not any(o is made for o in gc.get_objects())  # frozen: not in any generation
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert any(o is made for o in gc.get_objects())  # collectable again
    gc.disable()
    with PausedCollector() as collector:
        collector.resume()
        assert not gc.isenabled()  # the user had it off: it stays off
    assert not gc.isenabled()


class SeesCollector(Callback):
    def __init__(self) -> None:
        self.on_during_epochs: list[bool] = []

    def on_epoch_end(self, state: LoopState, epoch: int, row: Row) -> None:
        self.on_during_epochs.append(gc.isenabled())


def test_training_runs_with_the_collector_on(tmp_path: Path) -> None:
    gc.enable()
    seen = SeesCollector()
    with PausedCollector() as collector:
        assert not gc.isenabled()  # start-up: building the model and the optimizer
        train(Config(epochs=2, n=100), [collector.on_at_fit_start(), seen], write=False)
    assert seen.on_during_epochs == [True, True]
    argv = ["train", "--epochs", "1", "--n", "100", "--out", str(tmp_path)]
    assert run(argv) == 0 and gc.isenabled()  # the command leaves it as it found it
    assert run(["summary", "--in", "2", "--out", "1"]) == 0 and gc.isenabled()
