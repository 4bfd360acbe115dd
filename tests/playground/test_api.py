"""The playground's HTTP API under FastAPI's TestClient: every control's validation, the
limits, the stream, uploads and the exports."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from looplab.playground.server import create_app
from looplab.playground.settings import MAX_POINTS

# One bad value per control, and a word its message must name.
BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"problem": "clustering"}, "problem"),
    ({"dataset": "mnist"}, "dataset"),
    ({"dataset": "plane"}, "regression"),  # a regression set under classification
    ({"dataset": "upload", "upload": "../etc/passwd"}, "upload a file first"),
    ({"dataset": "blobs", "classes": 7}, "classes"),
    ({"n": 5}, "n"),
    ({"n": MAX_POINTS + 1}, "n"),
    ({"noise": 0.9}, "noise"),
    ({"train_percent": 95}, "train_percent"),
    ({"features": []}, "at least one input feature"),
    ({"features": ["x1", "x1"]}, "at most once"),
    ({"features": ["x3"]}, "features"),
    ({"hidden": [4, 0]}, "hidden.1"),
    ({"hidden": [65]}, "hidden.0"),
    ({"hidden": [2] * 7}, "hidden"),
    ({"activation": "softmax"}, "activation"),
    ({"init": "orthogonal"}, "init"),
    ({"init_scale": -1}, "init_scale"),
    ({"dropout": 1.0}, "dropout"),
    ({"norm": "group"}, "norm"),
    ({"residual": "maybe"}, "residual"),
    ({"regularization": "L3"}, "regularization"),
    ({"reg_rate": -0.1}, "reg_rate"),
    ({"optimizer": "lbfgs"}, "optimizer"),
    ({"lr": 0}, "lr"),
    ({"lr": 100}, "lr"),
    ({"momentum": 1.0}, "momentum"),
    ({"weight_decay": 2}, "weight_decay"),
    ({"schedule": "linear"}, "schedule"),
    ({"warmup": 3}, "has no warm-up"),
    ({"schedule": "cosine", "warmup": 600}, "shorter than the run"),
    ({"batch_size": 0}, "batch_size"),
    ({"epochs": 10**6}, "epochs"),
    ({"seed": -1}, "seed"),
    ({"norm": "batch", "batch_size": 1}, "batch norm"),
    ({"norm": "batch", "n": 100, "batch_size": 7}, "leave a batch of 1"),
    ({"lr": "0.1; import os"}, "lr"),
    ({"exec": "print(1)"}, "not a playground setting"),
]


@pytest.mark.parametrize(("patch", "word"), BAD_SETTINGS)
def test_every_control_refuses_a_bad_value_with_a_message(
    client: TestClient, patch: dict[str, Any], word: str
) -> None:
    response = client.post("/api/sessions", json={"settings": patch})
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert word in message and "\n" not in message
    sid = client.post("/api/sessions", json={}).json()["id"]
    put = client.put(f"/api/sessions/{sid}/settings", json={"settings": patch})
    assert put.status_code == 400 and put.json()["error"] == message
    assert client.get(f"/api/sessions/{sid}").json()["settings"]["lr"] == 0.03  # unchanged
    client.delete(f"/api/sessions/{sid}")


def test_good_values_of_every_control_are_taken(client: TestClient) -> None:
    settings = {
        "problem": "classification", "dataset": "blobs", "classes": 5, "n": 300, "noise": 0.2,
        "train_percent": 70, "features": ["sin(x2)", "x1"], "hidden": [8, 8, 3],
        "activation": "gelu", "init": "kaiming_normal", "init_scale": 2.0, "dropout": 0.25,
        "norm": "layer", "residual": True, "regularization": "L1", "reg_rate": 0.003,
        "optimizer": "nesterov", "lr": 0.1, "momentum": 0.95, "weight_decay": 0.001,
        "schedule": "one_cycle", "warmup": 2, "batch_size": 16, "epochs": 30, "seed": 42,
    }  # fmt: skip
    response = client.post("/api/sessions", json={"settings": settings})
    assert response.status_code == 201, response.text
    got = response.json()["settings"]
    assert got["features"] == ["x1", "sin(x2)"]  # one order, whatever order was sent
    assert {k: got[k] for k in settings if k != "features"} == {
        k: v for k, v in settings.items() if k != "features"
    }


def test_bodies_that_are_not_settings(client: TestClient) -> None:
    r = client.post("/api/sessions", content=b"lr=0.1", headers={"content-type": "text/plain"})
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    r = client.post("/api/sessions", json=[1, 2])
    assert r.status_code == 400 and "JSON object" in r.json()["error"]
    r = client.post("/api/sessions", content=b"{" + b" " * 20000 + b"}")
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_sessions_are_bounded_and_unknown_ones_are_404() -> None:
    with TestClient(create_app(max_sessions=2)) as client:
        ids = [client.post("/api/sessions", json={}).json()["id"] for _ in range(2)]
        with client.stream("GET", f"/api/sessions/{ids[0]}/stream", params={"frames": 1}):
            pass
        third = client.post("/api/sessions", json={})  # the least recently seen makes room
        assert third.status_code == 201
        assert client.get(f"/api/sessions/{ids[1]}").status_code == 404
        assert client.get(f"/api/sessions/{ids[0]}").status_code == 200
        missing = client.post("/api/sessions/nope/play")
        assert missing.status_code == 404 and "reload" in missing.json()["error"]
        assert client.post(f"/api/sessions/{ids[0]}/fly").status_code == 404


def test_sessions_streaming_are_kept_and_the_limit_says_so() -> None:
    app = create_app(max_sessions=1)
    with TestClient(app) as client:
        sid = client.post("/api/sessions", json={}).json()["id"]
        app.state.sessions.get(sid).streams = 1  # a page is reading it
        refused = client.post("/api/sessions", json={})
        assert refused.status_code == 429 and "1 open sessions" in refused.json()["error"]


def read_events(client: TestClient, sid: str, frames: int) -> list[tuple[str, dict[str, Any]]]:
    events = []
    with client.stream("GET", f"/api/sessions/{sid}/stream", params={"frames": frames}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    return events


def test_the_stream_sends_the_data_then_frames_as_the_run_trains(client: TestClient) -> None:
    sid = client.post("/api/sessions", json={"settings": {"epochs": 200}}).json()["id"]
    first = read_events(client, sid, 1)
    assert [k for k, _ in first] == ["data", "frame"]
    data = first[0][1]
    assert len(data["train"]) == 250 and len(data["test"]) == 250 and data["task"] == "binary"
    start = first[1][1]["frame"]
    assert start["step"] == 0 and start["status"] == "ready"
    client.post(f"/api/sessions/{sid}/play")
    events = read_events(client, sid, 12)
    frames = [e["frame"] for k, e in events if k == "frame"]
    steps = [f["step"] for f in frames]
    assert steps == sorted(steps) and steps[-1] > 0
    later = frames[-1]
    assert later["scores"]["train_loss"] < start["scores"]["train_loss"]
    assert later["output"] != start["output"]  # the boundary moved
    curve = [p for k, e in events if k == "frame" for p in e["curve"]["points"]]
    assert curve and curve[-1][0] == later["step"]
    client.post(f"/api/sessions/{sid}/pause")


def test_actions_step_pause_play_reset(client: TestClient) -> None:
    sid = client.post("/api/sessions", json={}).json()["id"]
    assert client.post(f"/api/sessions/{sid}/step").json()["status"] in ("running", "paused")
    for _ in range(200):  # each read gives the latest frame
        frame = read_events(client, sid, 1)[-1][1]["frame"]
        if frame["status"] == "paused":
            break
    assert (frame["status"], frame["step"]) == ("paused", 1)  # one step, then it waits
    client.post(f"/api/sessions/{sid}/step")
    for _ in range(200):
        frame = read_events(client, sid, 1)[-1][1]["frame"]
        if frame["step"] == 2 and frame["status"] == "paused":
            break
    assert (frame["status"], frame["step"]) == ("paused", 2)
    reset = client.post(f"/api/sessions/{sid}/reset").json()
    assert reset["status"] == "ready" and reset["epochs_done"] == 0


def test_stream_frames_parameter_is_bounded(client: TestClient) -> None:
    sid = client.post("/api/sessions", json={}).json()["id"]
    r = client.get(f"/api/sessions/{sid}/stream", params={"frames": -1})
    assert r.status_code == 400 and "frames" in r.json()["error"]


CSV = "x1,x2,label\n" + "\n".join(
    f"{i % 7 - 3},{(i * 3) % 11 - 5},{'red' if i % 3 else 'blue'}" for i in range(40)
)


def test_upload_a_csv_and_train_on_it(client: TestClient) -> None:
    r = client.post("/api/uploads", content=CSV.encode(), headers={"X-Filename": "mine.csv"})
    assert r.status_code == 201, r.text
    info = r.json()
    assert (info["rows"], info["labels"], info["numeric"]) == (40, 2, False)
    settings = {"dataset": "upload", "upload": info["id"], "epochs": 2}
    sid = client.post("/api/sessions", json={"settings": settings}).json()["id"]
    data = read_events(client, sid, 1)[0][1]
    assert len(data["train"]) + len(data["test"]) == 40
    xs = [p[0] for p in data["train"] + data["test"]]
    assert max(abs(x) for x in xs) <= 5.0 + 1e-9  # scaled into the plane
    script = client.get(f"/api/sessions/{sid}/export/pytorch").text
    assert "mine.csv, as uploaded (classes in order: blue, red)" in script
    regression = client.put(f"/api/sessions/{sid}/settings",
                            json={"settings": {**settings, "problem": "regression"}})  # fmt: skip
    assert regression.status_code == 400 and "numeric labels" in regression.json()["error"]


@pytest.mark.parametrize(
    ("body", "word"),
    [
        (b"x1,x2,label\n1,2,a\n", "data rows"),
        ("x1,x2,label\n" + "1,2\n" * 20, "each row is x1, x2, label"),
        ("x1,x2,label\n" + "1,nan,0\n" * 20, "not a finite number"),
        (b"\xff\xfe" + b"x" * 40, "not UTF-8"),
    ],
)
def test_bad_uploads_are_refused_with_the_row(
    client: TestClient, body: bytes | str, word: str
) -> None:
    content = body.encode() if isinstance(body, str) else body
    r = client.post("/api/uploads", content=content)
    assert r.status_code == 400 and word in r.json()["error"]


def test_labels_are_read_as_the_problem_needs(client: TestClient) -> None:
    many = "x1,x2,y\n" + "".join(f"{i},{-i},{i / 4}\n" for i in range(20))
    info = client.post("/api/uploads", content=many.encode()).json()
    assert (info["labels"], info["numeric"]) == (20, True)
    settings = {"dataset": "upload", "upload": info["id"]}
    as_classes = client.post("/api/sessions", json={"settings": settings})
    assert as_classes.status_code == 400 and "2 to 6 distinct labels" in as_classes.json()["error"]
    settings["problem"] = "regression"
    assert client.post("/api/sessions", json={"settings": settings}).status_code == 201


def test_uploads_are_size_limited(client: TestClient) -> None:
    r = client.post("/api/uploads", content=b"1,2,3\n" * 50_000)
    assert r.status_code == 413 and "262,144" in r.json()["error"]


def test_an_upload_the_server_forgot_is_named(client: TestClient) -> None:
    settings = {"dataset": "upload", "upload": "0123456789abcdef"}
    r = client.post("/api/sessions", json={"settings": settings})
    assert r.status_code == 400 and "upload the file again" in r.json()["error"]


def test_exports(client: TestClient) -> None:
    sid = client.post("/api/sessions", json={"settings": {"dataset": "moons"}}).json()["id"]
    r = client.get(f"/api/sessions/{sid}/export/pytorch")
    assert r.status_code == 200
    assert 'filename="playground_moons_seed0.py"' in r.headers["content-disposition"]
    assert "def main() -> None:" in r.text and "optimizer.zero_grad()" in r.text
    compile(r.text, "export.py", "exec")
    out = client.get(f"/api/sessions/{sid}/export/looplab").json()
    assert out["command"].startswith("looplab train --dataset moons --n 500")
    assert 'dataset = "moons"' in out["toml"] and out["csv"] is None
    csv = client.get(f"/api/sessions/{sid}/data.csv")
    lines = csv.text.splitlines()
    assert lines[0] == "x1,x2,label" and len(lines) == 501


def test_the_page_and_its_files_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from elsewhere
    assert client.get("/static/nope.js").status_code == 404
    previews = client.get("/api/previews").json()
    assert set(previews) == {d["name"] for d in client.get("/api/schema").json()["datasets"]
                             if d["name"] != "upload"}  # fmt: skip


def test_other_hosts_are_refused_when_serving_loopback() -> None:
    app = create_app(allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        assert client.get("/api/schema").status_code == 200
        evil = client.get("/api/schema", headers={"host": "attacker.example"})
        assert evil.status_code == 400
