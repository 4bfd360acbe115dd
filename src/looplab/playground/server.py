"""The playground's web server: a FastAPI app that serves the page, keeps one run per browser
session, streams its frames as server-sent events, takes CSV uploads and gives the exports.

Every request body is read with a size cap and validated into typed records; a bad request
gets a 4xx whose JSON ``{"error": "..."}`` is one line the page shows. Sessions are bounded
(``max_sessions``; the oldest idle one makes room) and forgotten after ``idle_seconds``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from looplab.errors import LooplabError
from looplab.playground import schema
from looplab.playground.export_looplab import data_csv, export_looplab
from looplab.playground.export_torch import export_script, script_name
from looplab.playground.session import Session
from looplab.playground.settings import Settings, parse_settings
from looplab.playground.uploads import MAX_BYTES, UploadError, UploadStore, parse_csv

STATIC = Path(__file__).parent / "static"
MAX_SETTINGS_BYTES = 16 * 1024
ACTIONS = ("play", "pause", "step", "reset")
HEARTBEAT_SECONDS = 10.0
POLL_SECONDS = 0.02  # the stream checks for a new frame 50 times a second


class ApiError(Exception):
    """A request the server refuses: HTTP ``status`` and a one-line message for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Sessions:
    """The open sessions, at most ``limit``; one idle for ``idle_seconds`` is forgotten."""

    def __init__(self, uploads: UploadStore, limit: int, idle_seconds: float) -> None:
        self.uploads = uploads
        self.limit = limit
        self.idle_seconds = idle_seconds
        self._open: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, settings: Settings) -> Session:
        session = Session(secrets.token_urlsafe(12), settings, self.uploads)
        with self._lock:
            self._expire()
            if len(self._open) >= self.limit:
                idle = [s for s in self._open.values() if s.streams == 0]
                if not idle:
                    session.close()
                    raise ApiError(
                        429,
                        f"the playground already has {self.limit} open sessions: close a tab "
                        "of it and reload",
                    )
                oldest = min(idle, key=lambda s: s.last_seen)
                self._open.pop(oldest.id).close()
            self._open[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        with self._lock:
            session = self._open.get(session_id)
        if session is None:
            raise ApiError(
                404, "this playground session has ended (server restart or idle): reload"
            )
        session.last_seen = time.monotonic()
        return session

    def remove(self, session_id: str) -> None:
        with self._lock:
            session = self._open.pop(session_id, None)
        if session is not None:
            session.close()

    def close_all(self) -> None:
        with self._lock:
            sessions, self._open = list(self._open.values()), {}
        for session in sessions:
            session.close()

    def __len__(self) -> int:
        return len(self._open)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid, s in list(self._open.items()):
            if s.streams == 0 and now - s.last_seen > self.idle_seconds:
                self._open.pop(sid).close()


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The request's body, refused with 413 past ``limit`` bytes (before reading it all)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"{what} is {int(declared):,} bytes; the limit is {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"{what} is over the limit of {limit:,} bytes")
    return bytes(body)


async def read_settings(request: Request) -> Settings:
    raw = await read_body(request, MAX_SETTINGS_BYTES, "the settings")
    try:
        value = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "the settings are not JSON: send an object of setting: value") from None
    if not isinstance(value, dict):
        raise ApiError(400, "the settings must be a JSON object of setting: value")
    return parse_settings(value.get("settings", value))


def create_app(
    *, allowed_hosts: list[str] | None = None, max_sessions: int = 8, idle_seconds: float = 900
) -> FastAPI:
    """The playground app. ``allowed_hosts`` (the Host headers it answers) guards a loopback
    server against DNS rebinding; None answers any."""
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and runs match the export
    uploads = UploadStore()
    sessions = Sessions(uploads, max_sessions, idle_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        sessions.close_all()  # stop every worker when the server stops

    app = FastAPI(
        title="looplab playground",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.sessions = sessions
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(LooplabError)
    async def user_error(request: Request, exc: LooplabError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": f"bad request: {exc.errors()[:1]}"}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/schema")
    async def get_schema() -> dict[str, Any]:
        return schema.describe()

    previews: dict[str, list[list[float]]] = {}

    @app.get("/api/previews")
    async def get_previews() -> dict[str, list[list[float]]]:
        if not previews:
            previews.update(await asyncio.to_thread(schema.previews))
        return previews

    @app.post("/api/sessions", status_code=201)
    async def new_session(request: Request) -> dict[str, Any]:
        settings = await read_settings(request)
        session = await asyncio.to_thread(sessions.create, settings)
        return session.summary()

    @app.get("/api/sessions/{session_id}")
    async def get_session(session_id: str) -> dict[str, Any]:
        return sessions.get(session_id).summary()

    @app.delete("/api/sessions/{session_id}", status_code=204)
    async def end_session(session_id: str) -> None:
        sessions.get(session_id)
        await asyncio.to_thread(sessions.remove, session_id)

    @app.put("/api/sessions/{session_id}/settings")
    async def put_settings(session_id: str, request: Request) -> dict[str, Any]:
        session = sessions.get(session_id)
        settings = await read_settings(request)
        await asyncio.to_thread(session.configure, settings)
        return session.summary()

    @app.post("/api/sessions/{session_id}/{action}")
    async def act(session_id: str, action: str) -> dict[str, Any]:
        session = sessions.get(session_id)
        if action not in ACTIONS:
            raise ApiError(404, f"no action {action!r}; the actions are {', '.join(ACTIONS)}")
        await asyncio.to_thread(getattr(session, action))
        return session.summary()

    @app.get("/api/sessions/{session_id}/stream")
    async def stream(session_id: str, request: Request, frames: int = 0) -> StreamingResponse:
        session = sessions.get(session_id)
        if not 0 <= frames <= 100_000:
            raise ApiError(400, "frames must be between 0 (no end) and 100000")
        return StreamingResponse(
            events(session, request, frames),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post("/api/uploads", status_code=201)
    async def upload(request: Request) -> dict[str, Any]:
        name = request.headers.get("x-filename", "upload.csv")
        data = await read_body(request, MAX_BYTES, name)
        try:
            up = uploads.add(parse_csv(data, name))
        except UploadError as exc:
            raise ApiError(400, str(exc)) from None
        numeric = all(_is_number(label) for label in up.labels)
        return {"id": up.id, "name": up.name, "rows": len(up.labels),
                "labels": len(set(up.labels)), "numeric": numeric}  # fmt: skip

    @app.get("/api/sessions/{session_id}/export/pytorch")
    async def export_pytorch(session_id: str) -> PlainTextResponse:
        session = sessions.get(session_id)
        s, history = session.settings, session.history
        upload = uploads.get(s.upload) if s.dataset == "upload" else None
        state = session.state
        partial = state is not None and state.batch > 0 and len(history) < s.epochs
        script = export_script(s, session.data.task, session.data.outputs, len(history),
                               upload, partial)  # fmt: skip
        return PlainTextResponse(
            script,
            media_type="text/x-python",
            headers={"Content-Disposition": f'attachment; filename="{script_name(s)}"'},
        )

    @app.get("/api/sessions/{session_id}/export/looplab")
    async def export_cli(session_id: str) -> dict[str, Any]:
        session = sessions.get(session_id)
        out = export_looplab(session.settings, session.data.task)
        return {"command": out.command, "toml": out.toml, "csv": out.csv_name,
                "unsupported": out.unsupported}  # fmt: skip

    @app.get("/api/sessions/{session_id}/data.csv")
    async def get_data_csv(session_id: str) -> PlainTextResponse:
        session = sessions.get(session_id)
        from looplab.playground.export_looplab import csv_name

        return PlainTextResponse(
            data_csv(session.settings, session.data),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{csv_name(session.settings)}"'},
        )

    return app


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


async def events(session: Session, request: Request, limit: int) -> AsyncIterator[str]:
    """The session's stream: a ``data`` event whenever the points change, a ``frame`` event
    (the frame and the loss-curve points since the last one) whenever a frame is posted, and a
    comment every few seconds of quiet so proxies keep the connection. ``limit`` > 0 ends it
    after that many frames (for tests)."""
    session.streams += 1
    try:
        sent_frame, sent_data, generation, position = -1, -1, -1, 0
        quiet_since, count = time.monotonic(), 0
        board = session.board
        while True:
            if session.data_version != sent_data:
                sent_data = session.data_version
                yield f"event: data\ndata: {session.data_json}\n\n"
            if board.version != sent_frame:
                with board.lock:
                    sent_frame, frame = board.version, board.frame
                    reset = board.generation != generation
                    if reset:
                        generation, position = board.generation, 0
                    points, position = board.curve[position:], len(board.curve)
                curve = json.dumps({"reset": reset, "points": points})
                yield f'event: frame\ndata: {{"frame": {frame}, "curve": {curve}}}\n\n'
                quiet_since, count = time.monotonic(), count + 1
                if limit and count >= limit:
                    return
            elif time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
                quiet_since = time.monotonic()
                yield ": still here\n\n"
            if await request.is_disconnected():
                return
            session.last_seen = time.monotonic()
            await asyncio.sleep(POLL_SECONDS)
    finally:
        session.streams -= 1
