"""A session's run is looplab's fit in a worker thread: step is one optimizer step, pause
holds, play goes on, reset starts over, and neither frames nor other sessions change a run."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import torch

from looplab.playground.session import Session
from looplab.playground.settings import parse_settings
from looplab.playground.uploads import UploadStore


def session(**settings: Any) -> Session:
    return Session("test", parse_settings({"epochs": 3, **settings}), UploadStore())


def frame(s: Session) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(s.board.frame)
    return result


def wait_for(s: Session, *statuses: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while s.status not in statuses:
        assert time.monotonic() < deadline, f"still {s.status}, waiting for {statuses}"
        time.sleep(0.005)


def weights(s: Session) -> list[torch.Tensor]:
    return [p.detach().clone() for p in s.model.parameters()]


def test_a_new_session_shows_step_zero() -> None:
    s = session()
    f = frame(s)
    assert (s.status, f["step"], f["epoch"]) == ("ready", 0, 0)
    assert f["scores"]["train_loss"] > 0.3 and len(f["neurons"]) == 3  # 4, 2 hidden, 1 output
    assert f["cells"] == 100 and len(f["output"]) == 13336  # 100 x 100 bytes in base64


def test_step_is_one_optimizer_step_then_pause() -> None:
    s = session()
    before = weights(s)
    s.step()
    wait_for(s, "paused")
    assert frame(s)["step"] == 1 and s.state is not None and s.state.step == 1
    after = weights(s)
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    s.step()
    wait_for(s, "paused")
    time.sleep(0.05)  # a paused run stays put
    assert s.state is not None and s.state.step == 2 and frame(s)["step"] == 2
    s.close()


def test_play_pause_and_play_again_finish_the_run() -> None:
    s = session(epochs=40)
    s.play()
    time.sleep(0.05)
    s.pause()
    wait_for(s, "paused", "done")
    if s.status == "paused":
        held = s.state.step if s.state else -1
        time.sleep(0.05)
        assert s.state is not None and s.state.step == held
        s.play()
    wait_for(s, "done")
    assert len(s.history) == 40 and frame(s)["status"] == "done"


def test_reset_starts_the_same_run_over() -> None:
    s = session()
    start = weights(s)
    s.play()
    wait_for(s, "done")
    trained = s.history.last["train_loss"]
    s.reset()
    assert s.status == "ready" and frame(s)["step"] == 0
    assert all(torch.equal(a, b) for a, b in zip(start, weights(s), strict=True))
    s.play()
    wait_for(s, "done")
    assert s.history.last["train_loss"] == trained


def test_frames_change_nothing_in_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame after every step and a frame almost never give the same run, bit for bit."""
    settings = {"dropout": 0.3, "norm": "batch", "hidden": [6, 6], "epochs": 2}
    results = []
    for interval, stretch in ((0.0, 0.0), (1e9, 1.0)):
        monkeypatch.setattr(Session, "frame_interval", interval)
        monkeypatch.setattr(Session, "frame_stretch", stretch)
        s = session(**settings)
        s.play()
        wait_for(s, "done")
        results.append((s.history.last["train_loss"], weights(s), s.board.version))
    (loss_a, w_a, frames_a), (loss_b, w_b, frames_b) = results
    steps = 2 * s.settings.steps_per_epoch
    assert frames_a > steps > 5 > frames_b  # the first really drew after every step
    assert loss_a == loss_b
    assert all(torch.equal(a, b) for a, b in zip(w_a, w_b, strict=True))


def test_sessions_running_side_by_side_do_not_disturb_each_other() -> None:
    settings = {"dropout": 0.5, "hidden": [8], "epochs": 4}
    alone = session(**settings)
    alone.play()
    wait_for(alone, "done")
    a, b = session(**settings), session(**{**settings, "seed": 1})
    threads = [threading.Thread(target=x.play) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(a, "done")
    wait_for(b, "done")
    assert a.history.last["train_loss"] == alone.history.last["train_loss"]
    assert b.history.last["train_loss"] != alone.history.last["train_loss"]


def test_a_diverging_run_stops_with_the_diagnosis() -> None:
    s = session(lr=10.0, problem="regression", dataset="plane", hidden=[8, 8],
                activation="relu", epochs=20)  # fmt: skip
    s.play()
    wait_for(s, "diverged", "done", "error")
    f = frame(s)
    assert s.status == "diverged" and s.state is not None and s.state.step < 20
    assert f["status"] == "diverged"
    assert any(n["kind"] == "non-finite loss" for n in f["notes"])


def test_changing_settings_stops_the_run_and_builds_the_new_one() -> None:
    s = session(epochs=2000)
    s.play()
    time.sleep(0.1)
    s.configure(parse_settings({"hidden": [3], "epochs": 5}))
    assert s.status == "ready" and not s._running()
    assert [len(layer) for layer in frame(s)["neurons"]] == [3, 1]
    assert frame(s)["step"] == 0
