"""The playground's speed at TensorFlow Playground's default size (circle, features x1 and x2,
hidden 4-2 tanh, batch 10, SGD at 0.03): side by side in one process.

Run: uv run python benchmarks/playground.py [--epochs 60] [--repeats 3] [--seconds 5]

1. Training steps per second: looplab's ``fit`` bare (no callbacks) vs a playground session's
   run (the same ``fit`` with the layer monitor, the diagnoses, the frame publisher at 30 frames
   a second and the play/pause control), interleaved repeat by repeat. Target: >= 500 steps/s.
2. The cost of a frame: the 100 x 100 output grid with every neuron's 25 x 25 heatmap
   (target < 10 ms), and the whole frame (plus losses of both sets, weights, JSON).
3. In the browser (Debian's chromium, headless, through Playwright) while the run trains:
   animation frames a second, counted with requestAnimationFrame, and the page's own redraws
   a second (it redraws once per animation frame when a new frame came). Target: >= 20.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import threading
import time
from datetime import datetime
from pathlib import Path

import torch

from looplab.data.batches import Batches
from looplab.loop.kernel import fit
from looplab.playground.session import Session
from looplab.playground.settings import parse_settings
from looplab.playground.uploads import UploadStore

DEFAULTS = {"dataset": "circle", "hidden": [4, 2], "batch_size": 10, "activation": "tanh"}


def bare_fit(epochs: int) -> float:
    """Steps per second of fit with no callbacks on the session's own model and data."""
    s = Session("bare", parse_settings({**DEFAULTS, "epochs": epochs}), UploadStore())
    batches = Batches(
        s.data.X_train, s.data.y_train, 10, generator=torch.Generator().manual_seed(0)
    )
    test = Batches(s.data.X_test, s.data.y_test, len(s.data.X_test), shuffle=False)
    started = time.perf_counter()
    fit(s.model, batches, s.loss_fn, s.optimizer, epochs=epochs, task=s.data.task, val_batches=test)
    return epochs * len(batches) / (time.perf_counter() - started)


def playground_run(epochs: int) -> tuple[float, int]:
    """Steps per second of a session's run (all its callbacks), and the frames it posted."""
    s = Session("bench", parse_settings({**DEFAULTS, "epochs": epochs}), UploadStore())
    started = time.perf_counter()
    s.play()
    while s.status == "running":
        time.sleep(0.001)
    seconds = time.perf_counter() - started
    assert s.state is not None
    return s.state.step / seconds, s.board.version


def frame_costs(repeats: int = 50) -> tuple[float, float]:
    """Median milliseconds of the output grid (with neuron heatmaps) and of a whole frame."""
    s = Session("frame", parse_settings({**DEFAULTS}), UploadStore())
    grid, whole = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        s.maker.surfaces(s.model)
        grid.append(time.perf_counter() - t)
        t = time.perf_counter()
        s._publish(None)
        whole.append(time.perf_counter() - t)
    return 1000 * statistics.median(grid), 1000 * statistics.median(whole)


def browser_rates(seconds: float) -> dict[str, float] | str:
    """Animation frames, page redraws and stream frames a second while the default run
    trains, in headless chromium; or why it could not be measured."""
    if not Path("/usr/bin/chromium").exists():
        return "no /usr/bin/chromium (apt-get install -y chromium)"
    import uvicorn
    from playwright.sync_api import sync_playwright

    from looplab.playground.server import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync"]  # fmt: skip
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/#epochs=10000")
            page.wait_for_function("window.playgroundStats && window.playgroundStats.draws > 0")
            page.click("#play")
            page.wait_for_function("S.frame && S.frame.status === 'running'")
            page.evaluate("""() => { window.rafCount = 0;
                (function tick() { window.rafCount++; requestAnimationFrame(tick); })(); }""")
            before = page.evaluate("JSON.stringify(window.playgroundStats)")
            time.sleep(seconds)
            after = page.evaluate("JSON.stringify(window.playgroundStats)")
            rafs = page.evaluate("window.rafCount")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    b, a = json.loads(before), json.loads(after)
    draws = a["draws"] - b["draws"]
    return {
        "animation frames/s": rafs / seconds,
        "redraws/s": draws / seconds,
        "stream frames/s": (a["frames"] - b["frames"]) / seconds,
        "ms per redraw": (a["drawMs"] - b["drawMs"]) / max(draws, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the server does
    print(f"# playground speed, {datetime.now():%Y-%m-%d %H:%M}")
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, torch {torch.__version__}; "
          f"load average {os.getloadavg()[0]:.1f} at the start")  # fmt: skip
    bare, session, frames = [], [], []
    for _ in range(args.repeats):
        bare.append(bare_fit(args.epochs))
        rate, posted = playground_run(args.epochs)
        session.append(rate)
        frames.append(posted)
    print("\n| training (steps/s) | median | best | frames posted |")
    print("|---|---:|---:|---:|")
    print(f"| fit, no callbacks | {statistics.median(bare):,.0f} | {max(bare):,.0f} | - |")
    print(f"| playground session | {statistics.median(session):,.0f} | {max(session):,.0f} | "
          f"{statistics.median(frames):.0f} |")  # fmt: skip
    print(f"| ratio session / bare | {statistics.median(session) / statistics.median(bare):.2f} "
          f"| {max(session) / max(bare):.2f} | |")  # fmt: skip
    grid_ms, frame_ms = frame_costs()
    print(f"\noutput grid 100 x 100 with neuron heatmaps: {grid_ms:.2f} ms; whole frame: "
          f"{frame_ms:.2f} ms (median of 50)")  # fmt: skip
    rates = browser_rates(args.seconds)
    if isinstance(rates, str):
        print(f"\nbrowser: not measured ({rates})")
    else:
        print("\n| in the browser, while training | per second |")
        print("|---|---:|")
        for name, value in rates.items():
            print(f"| {name} | {value:.1f} |")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
