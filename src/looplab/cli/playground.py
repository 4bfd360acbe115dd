"""``looplab playground``: the local web playground (server in ``looplab.playground``)."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from looplab.cli import app
from looplab.cli.output import console, err_console
from looplab.errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command()
def playground(
    port: Annotated[int, typer.Option(help="port to serve on")] = 8765,
    host: Annotated[
        str, typer.Option(help="address to listen on (default: this computer only)")
    ] = "127.0.0.1",
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="print the address, do not open a browser")
    ] = False,
) -> None:
    """Open the playground in your browser: watch looplab's training loop learn 2-D data live,
    change anything, and export the run as a PyTorch script."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"port must be between 1 and 65535, got {port}: choose another --port")
    check_port_free(host, port)
    if host not in LOOPBACK:
        err_console.print(
            f"[yellow]warning:[/] listening on {host}: anyone who can reach this computer can "
            "use the playground (and its CPU); leave out --host to keep it on 127.0.0.1",
            highlight=False,
        )
    from looplab.playground.serve import serve  # fastapi and uvicorn load only here

    shown = "127.0.0.1" if host in ("127.0.0.1", "localhost") else host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
    console.print(f"looplab playground: [bold]{url}[/]  (Ctrl+C stops it)", highlight=False)
    stopped_by = serve(host, port, url, open_browser=not no_browser)
    if stopped_by is not None:
        raise typer.Exit(128 + stopped_by)


def check_port_free(host: str, port: int) -> None:
    """A ConfigError naming a port that is taken (or an address this computer does not have),
    before the server starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(
                f"cannot listen on {host}:{port} ({reason}): choose another --port or --host"
            ) from None
