"""End to end in a real browser: Playwright drives Debian's chromium (headless) against the
playground served on 127.0.0.1. Every request to another host is aborted and counted: none may
happen. Screenshots are kept under tmp_path. Skipped, with the reason, where chromium is not
installed (``apt-get install -y chromium``; ``.ci/run`` installs it)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import runpy
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import uvicorn

from looplab.playground.server import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip

if not CHROMIUM.exists():
    pytest.skip(
        "no /usr/bin/chromium: install Debian's chromium (apt-get install -y chromium) to run "
        "the browser tests",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning",
                            timeout_graceful_shutdown=1)  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "the playground server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)


class Browser:
    """A page on the playground, counting (and aborting) requests to any other host."""

    def __init__(self, playwright: Any) -> None:
        self.browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        self.context = self.browser.new_context(viewport={"width": 1500, "height": 1000},
                                                accept_downloads=True)  # fmt: skip
        self.foreign: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route: Any) -> None:
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            route.abort()

    def value(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def wait(self, expression: str, timeout: float = 20_000) -> None:
        self.page.wait_for_function(expression, timeout=timeout)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_api.sync_playwright() as p:
        b = Browser(p)
        yield b
        b.browser.close()


def open_page(b: Browser, url: str) -> None:
    b.page.goto("about:blank")  # a new document, even where only the hash differs
    b.page.goto(url)
    b.wait("window.playgroundStats && window.playgroundStats.draws > 0 && S.data !== null")


def canvas(b: Browser, selector: str) -> str:
    return str(b.value(f"document.querySelector('{selector}').toDataURL()"))


def test_play_learn_change_upload_export(server: str, browser: Browser, tmp_path: Path) -> None:
    b = browser
    open_page(b, server)
    b.page.screenshot(path=tmp_path / "01-start.png", full_page=True)
    start_loss = float(b.page.inner_text("#train-loss"))
    start_plane = canvas(b, "#boundary")
    b.page.click("#play")
    b.wait("S.frame && S.frame.scores.train_loss < 0.5 && S.frame.epoch >= 5", 60_000)
    b.page.click("#play")  # pause
    b.wait("S.frame.status === 'paused'")
    b.page.screenshot(path=tmp_path / "02-trained.png", full_page=True)
    assert float(b.page.inner_text("#train-loss")) < start_loss - 0.15  # the loss fell
    assert canvas(b, "#boundary") != start_plane  # the boundary moved
    assert b.value("S.curve.length") > 3

    # export as PyTorch, run the script, compare with the playground's last epoch
    playground_loss = b.value("S.frame.epoch_row.train_loss")
    with b.page.expect_download() as download:
        b.page.click("#export-torch")
    script = tmp_path / download.value.suggested_filename
    download.value.save_as(script)
    printed = io.StringIO()  # run here (torch is loaded); test_export runs scripts standalone
    with contextlib.redirect_stdout(printed):
        runpy.run_path(str(script), run_name="__main__")
    final = json.loads(printed.getvalue().strip().splitlines()[-1])
    assert final["epochs"] == b.value("S.frame.epoch")
    assert abs(final["train_loss"] - playground_loss) <= 1e-6

    # looplab export dialog
    b.page.click("#export-looplab")
    b.wait("document.getElementById('export-dialog').open")
    assert b.page.inner_text("#export-command").startswith("looplab train")
    b.page.screenshot(path=tmp_path / "03-export-looplab.png")
    b.page.click("#export-dialog button[value=close]")

    # another dataset and another network
    version = b.value("S.data.version")
    b.page.click(".dataset[data-name=spiral]")
    b.wait(f"S.data.version > {version} && S.settings.dataset === 'spiral'")
    b.page.click("#add-layer")
    b.wait("S.settings.hidden.length === 3 && S.frame.neurons.length === 4")
    b.page.click(".layer-head button >> nth=0")  # a neuron more in the first layer
    b.wait("S.settings.hidden[0] === 5 && S.frame.neurons[0].length === 5")
    b.page.click("#play")
    b.wait("S.frame.epoch >= 5")
    b.page.click("#play")
    b.wait("S.frame.status === 'paused'")
    assert "dataset=spiral" in b.page.url and "hidden=5%2C2%2C2" in b.page.url
    b.page.hover("canvas.node[data-layer='0'][data-neuron='0']")
    b.wait("S.hover !== null")
    b.page.screenshot(path=tmp_path / "04-spiral-hover.png", full_page=True)

    # your own CSV
    rows = ["x1,x2,label"] + [f"{(i % 20) - 10},{(i * 7) % 20 - 10},{i % 3}" for i in range(90)]
    csv = tmp_path / "three.csv"
    csv.write_text("\n".join(rows))
    b.page.set_input_files("#upload-file", str(csv))
    b.wait("S.settings.dataset === 'upload' && S.data.classes.length === 3")
    assert re.search(r"upload=[0-9a-f]{16}", b.page.url)
    b.page.screenshot(path=tmp_path / "05-upload.png", full_page=True)

    assert b.errors == []
    assert b.foreign == [], "the page asked another host"


def test_a_link_reproduces_the_run(server: str, browser: Browser) -> None:
    b = browser
    link = (server + "#problem=regression&dataset=multigauss&hidden=6%2C3&activation=relu"
            "&lr=0.01&optimizer=adam&seed=7&epochs=3&batch_size=20"
            "&features=x1%2Cx2%2Cx1%5E2")  # fmt: skip
    open_page(b, link)
    settings = b.value("S.settings")
    assert (settings["dataset"], settings["hidden"], settings["seed"]) == ("multigauss", [6, 3], 7)
    assert settings["features"] == ["x1", "x2", "x1^2"]
    assert b.page.input_value("#optimizer") == "adam" and b.page.input_value("#lr") == "0.01"
    b.page.click("#play")
    b.wait("S.frame.status === 'done'")
    first = b.value("S.frame.epoch_row.train_loss")
    copied = b.page.url  # the page wrote every setting into it
    open_page(b, copied)
    b.page.click("#play")
    b.wait("S.frame.status === 'done'")
    assert b.value("S.frame.epoch_row.train_loss") == first
    assert b.foreign == []


def test_a_refused_setting_is_shown_and_undone(server: str, browser: Browser) -> None:
    b = browser
    open_page(b, server + "#norm=batch&batch_size=1")
    b.wait("!document.getElementById('banner').hidden")
    assert "batch norm" in b.page.inner_text("#banner")
    assert b.value("S.settings.norm") == "none"  # the defaults instead
    b.page.fill("#epochs", "999999")
    b.page.dispatch_event("#epochs", "change")
    b.wait("document.getElementById('banner').innerText.includes('epochs')")
    b.wait("document.getElementById('epochs').value === '500'")
