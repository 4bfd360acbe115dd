"""Run the playground app under uvicorn until Ctrl+C (or SIGTERM), optionally opening the page
in the browser once the server listens. Imported only by ``looplab playground``."""

from __future__ import annotations

import signal
import threading
import time
import webbrowser
from types import FrameType

import uvicorn

from looplab.playground.server import create_app

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Server(uvicorn.Server):
    """uvicorn's server, remembering the signal that stopped it (for exit code 130 / 143)."""

    stopped_by: int | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig in (signal.SIGINT, signal.SIGTERM):
            self.stopped_by = int(sig)
        super().handle_exit(sig, frame)


def serve(host: str, port: int, url: str, open_browser: bool) -> int | None:
    """Serve until stopped; the signal number that stopped it, or None."""
    allowed = ["127.0.0.1", "localhost", "[::1]", "::1"] if host in LOOPBACK else None
    config = uvicorn.Config(
        create_app(allowed_hosts=allowed),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = Server(config)
    if open_browser:
        threading.Thread(target=_open_when_ready, args=(server, url), daemon=True).start()
    server.run()
    return server.stopped_by


def _open_when_ready(server: uvicorn.Server, url: str) -> None:
    """Open ``url`` in the browser once the server has started (waiting up to 10 s)."""
    for _ in range(200):
        if server.started:
            webbrowser.open(url)
            return
        time.sleep(0.05)
