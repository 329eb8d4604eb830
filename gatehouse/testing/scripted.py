"""What the fakes of native providers share: a script per request, a record of requests, the server.

A fake (:class:`~.fake_cohere.FakeCohere`, :class:`~.fake_ollama.FakeOllama`)
subclasses :class:`ScriptedFake`, lists its routes and builds its answers
from a :class:`Script`. Scripts come from ``set_default(...)`` and
``queue(...)`` (FIFO, one per request; later wins, key by key). Every request
is recorded in :attr:`ScriptedFake.requests` (method, path, query, headers,
JSON body).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web

from .fake_answers import split_words
from .service import ThreadedService

__all__ = ["Script", "Recorded", "ScriptedFake", "reply_words"]

Handler = Callable[[web.Request, "Recorded", "Script"], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Script:
    """How to answer one request; every field defaults to "behave normally"."""

    text: str | None = None  # the reply text (default: "Hello! You said: <last user text>")
    chunks: list[str] | None = None  # the streamed text pieces, exactly
    tool_calls: list[dict[str, Any]] | None = None  # [{"id"?, "name", "arguments": {...}}]
    thinking: str | None = None  # reasoning text before the reply
    finish: str | None = None  # the native finish reason
    usage: dict[str, Any] | None = None  # native usage fields merged into the default ones
    status: int | None = None  # answer this HTTP status with ``error``
    error: Any = None  # the native error body (a default one when None)
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    raw: str | None = None  # send this body as it is (HTML, truncated JSON), status 200
    events: list[Any] | None = None  # stream exactly these native events (dicts, or raw text frames)
    die_after: int | None = None  # close the connection after N streamed events
    delay: float = 0.0  # seconds to wait before answering

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Script":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown script keys: {unknown}")
        return cls(**values)

    def pieces(self, reply: str) -> list[str]:
        return list(self.chunks) if self.chunks is not None else split_words(reply)

    def reply(self, default: str) -> str:
        if self.chunks is not None:
            return "".join(self.chunks)
        return default if self.text is None else self.text


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    time: float


def reply_words(text: str) -> int:
    return len(text.split())


class ScriptedFake(ThreadedService):
    """A fake provider server: start it, script it, inspect what it received. Thread-safe."""

    thread_name = "scripted-fake"

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._queue: list[dict[str, Any]] = []
        self._default: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._url

    def routes(self) -> list[tuple[str, str, Handler]]:
        """``(method, path, handler)`` rows; a subclass lists its API here."""
        raise NotImplementedError

    # -- scripting -----------------------------------------------------------------
    def queue(self, **script: Any) -> None:
        Script.from_dict(script)
        with self._lock:
            self._queue.append(script)

    def set_default(self, **script: Any) -> None:
        Script.from_dict(script)
        with self._lock:
            self._default = script

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._default = {}
            self.requests.clear()

    def _next(self) -> Script:
        with self._lock:
            queued = self._queue.pop(0) if self._queue else {}
            return Script.from_dict({**self._default, **queued})

    # -- lifecycle -----------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for method, path, handler in self.routes():
            app.router.add_route(method, path, self._wrap(handler))
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound = self._runner.addresses[0][1]
        self._url = f"http://{host}:{bound}"
        return self._url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _wrap(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            body: Any = None
            if request.can_read_body:
                raw = await request.read()
                try:
                    body = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    body = None
            rec = Recorded(request.method, request.path, dict(request.query), dict(request.headers), body, time.time())
            with self._lock:
                self.requests.append(rec)
            script = self._next()
            if script.delay:
                await asyncio.sleep(script.delay)
            if script.raw is not None:
                return web.Response(status=200, text=script.raw, content_type="text/html")
            return await handler(request, rec, script)
        return handle


async def send_json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json",
                        headers=headers or {})


async def send_stream(request: web.Request, frames: list[bytes], script: Script, content_type: str) -> web.StreamResponse:
    """Write ``frames`` as they are; with ``die_after`` close the connection midway."""
    resp = web.StreamResponse(headers=script.headers)
    resp.content_type = content_type
    await resp.prepare(request)
    for sent, frame in enumerate(frames):
        if script.die_after is not None and sent >= script.die_after:
            if request.transport is not None:
                request.transport.close()
            return resp
        await resp.write(frame)
    await resp.write_eof()
    return resp
