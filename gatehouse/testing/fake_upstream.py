"""A fake OpenAI-compatible upstream: deterministic answers, scriptable failures.

Used by the test suite, the benchmarks and hook authors. Every route is served
with and without the ``/v1`` prefix::

    POST chat/completions  completions  embeddings  images/generations
         moderations  audio/transcriptions  audio/translations (multipart)
         audio/speech (audio bytes in pieces)  rerank (vLLM/Jina shape; TEI's for ``texts``)
    GET  models

Default answers: chat says ``"Hello! You said: <last user text>"``, completions
say ``"Hello! You said: <prompt>"``; token counts are whitespace-separated
words. Streams are SSE frames ``data: <compact json>\\n\\n`` ending with
``data: [DONE]``; one content chunk per word of the reply.

Behaviour (keys of :class:`Behaviour`) comes from three layers, later wins:
``set_default(...)``, the request body's ``fake_upstream: {...}`` field, and
``queue(...)`` (FIFO, one entry consumed per request). Every request is
recorded in :attr:`FakeUpstream.requests`; :attr:`FakeUpstream.cancelled`
counts requests whose client left before the answer was complete, and
:attr:`FakeUpstream.completed` those answered in full.

Run it alone: ``python -m gatehouse.testing.fake_upstream --port 8001``.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web

from .service import ThreadedService, serve_until_signal

from .fake_answers import ROUTES, Answer, AnswerFn, Behaviour, RecordedRequest, _BytesPlan, _StreamPlan

__all__ = ["Behaviour", "RecordedRequest", "FakeUpstream", "main"]

DEFAULT_ERROR: dict[str, Any] = {
    "message": "fake upstream error", "type": "server_error", "param": None, "code": None,
}
AUTH_ERROR: dict[str, Any] = {
    "message": "Incorrect API key provided", "type": "invalid_request_error",
    "param": None, "code": "invalid_api_key",
}
async def _read_request(request: web.Request) -> RecordedRequest:
    """Record a request: JSON body, or multipart fields with file name and size."""
    body: Any = None
    form: dict[str, Any] | None = None
    if request.content_type.startswith("multipart/"):
        form = {}
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                form[key] = {"filename": value.filename, "size": len(value.file.read())}
            else:
                form[key] = value
    elif request.can_read_body:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
    return RecordedRequest(request.method, request.path, dict(request.headers),
                           body, form, time.time(), dict(request.query))


def _directive(rec: RecordedRequest) -> dict[str, Any]:
    """The ``fake_upstream`` field of a JSON body, or of a multipart form (JSON text)."""
    if isinstance(rec.json, dict) and isinstance(rec.json.get("fake_upstream"), dict):
        return dict(rec.json["fake_upstream"])
    raw = (rec.form or {}).get("fake_upstream")
    return dict(orjson.loads(raw)) if isinstance(raw, str) else {}


def _sse(frame: dict[str, Any] | str) -> bytes:
    data = frame.encode() if isinstance(frame, str) else orjson.dumps(frame)
    return b"data: " + data + b"\n\n"


def _error_body(error: dict[str, Any]) -> bytes:
    return orjson.dumps({"error": error})


def _bad_request(message: str) -> bytes:
    return _error_body({**DEFAULT_ERROR, "message": message, "type": "invalid_request_error"})


class FakeUpstream(ThreadedService):
    """The fake OpenAI API server: start it, script it, inspect what it received.

    Thread-safe: the Python API may be used from another thread than the one
    serving (see :meth:`start_in_thread`). ``completed`` and ``cancelled`` are
    counted after the answer is written, so they may trail the client by a
    moment: wait with :meth:`wait_until` / :meth:`until`. After :meth:`reset`,
    late outcomes of earlier requests are not counted.
    """

    thread_name = "fake-upstream"

    def __init__(self, require_api_key: str | None = None) -> None:
        """``require_api_key``: answer 401 unless ``Authorization: Bearer <key>``."""
        self.require_api_key = require_api_key
        self.requests: list[RecordedRequest] = []
        self.cancelled = 0
        self.completed = 0
        self._queue: list[dict[str, Any]] = []
        self._default: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped by reset(): late outcomes of older requests are not counted
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self.release = threading.Event()
        """Set by a test to let an answer held by ``hold_after_chunks`` go on."""

    @property
    def url(self) -> str:
        """The base URL clients use, ``http://host:port/v1``."""
        if self._url is None:
            raise RuntimeError("FakeUpstream is not started")
        return self._url

    # -- scripting ---------------------------------------------------------
    def queue(self, **behaviour: Any) -> None:
        """Append a behaviour consumed by the next request (FIFO)."""
        Behaviour.from_dict(behaviour)
        with self._lock:
            self._queue.append(behaviour)

    def set_default(self, **behaviour: Any) -> None:
        """Replace the behaviour used under body directives and queued ones."""
        Behaviour.from_dict(behaviour)
        with self._lock:
            self._default = behaviour

    def reset(self) -> None:
        """Clear the queue, the default behaviour, the records and the counters."""
        with self._lock:
            self._queue.clear()
            self._default = {}
            self.requests.clear()
            self.cancelled = self.completed = 0
            self._generation += 1
            self.release.clear()

    def _record(self, rec: RecordedRequest) -> tuple[int, int]:
        """Append ``rec`` to :attr:`requests`; return its 1-based number and generation."""
        with self._lock:
            self.requests.append(rec)
            return len(self.requests), self._generation

    def _behaviour(self, rec: RecordedRequest) -> Behaviour:
        """Merge default < body directive < next queued entry (consumed)."""
        with self._lock:
            queued = self._queue.pop(0) if self._queue else {}
            return Behaviour.from_dict({**self._default, **_directive(rec), **queued})

    def _count(self, counter: str, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                setattr(self, counter, getattr(self, counter) + 1)


    # -- lifecycle ---------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 = any free port); return :attr:`url`."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for (method, path), answer in ROUTES.items():
            handler = self._handler(answer)
            app.router.add_route(method, "/v1/" + path, handler)
            app.router.add_route(method, "/" + path, handler)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        self._url = f"http://{shown}:{bound}/v1"
        return self._url

    async def stop(self) -> None:
        """Stop listening; open connections are closed."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeUpstream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- serving -----------------------------------------------------------
    def _handler(self, answer: AnswerFn) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, answer)
        return handle

    async def _handle(self, request: web.Request, answer: AnswerFn) -> web.StreamResponse:
        """Record, authenticate, pick the behaviour, answer; count the outcome."""
        rec = await _read_request(request)
        number, generation = self._record(rec)
        rid = f"fake-{number}"
        expected = f"Bearer {self.require_api_key}"
        if self.require_api_key and request.headers.get("Authorization") != expected:
            return await _send(request, 401, _error_body(AUTH_ERROR), "application/json", {})
        try:
            b = self._behaviour(rec)
        except ValueError as exc:
            return await _send(request, 400, _bad_request(str(exc)), "application/json", {})
        try:
            if b.delay:
                await asyncio.sleep(b.delay)
            resp, finished = await self._respond(request, rec, b, lambda: answer(rec, b, rid), self.release)
        except asyncio.CancelledError:
            self._count("cancelled", generation)
            raise
        except ConnectionError:
            self._count("cancelled", generation)
            return web.Response(status=499)
        if finished:
            self._count("completed", generation)
        return resp

    async def _respond(self, request: web.Request, rec: RecordedRequest, b: Behaviour,
                       make: Callable[[], Answer], release: threading.Event | None = None
                       ) -> tuple[web.StreamResponse, bool]:
        """Send the error, the stream or the body; True when sent in full."""
        if b.status is not None:
            body = _error_body(b.error if b.error is not None else DEFAULT_ERROR)
            return await _send(request, b.status, body, "application/json", b.headers), True
        if rec.method == "POST" and rec.form is None and not isinstance(rec.json, dict):
            body = _bad_request("fake upstream: body is not a JSON object")
            return await _send(request, 400, body, "application/json", {}), True
        result = make()
        if isinstance(result, _StreamPlan):
            return await _stream(request, result, b)
        if isinstance(result, _BytesPlan):
            return await _bytes(request, result, b, release)
        if isinstance(result, str):
            return await _send(request, 200, result.encode(), "text/plain", b.headers), True
        body = orjson.dumps(result)
        return await _send(request, 200, body, "application/json", b.headers), True


async def _send(request: web.Request, status: int, body: bytes, content_type: str,
                headers: dict[str, str]) -> web.StreamResponse:
    """Write a whole answer now, so a failed write is seen by the handler."""
    resp = web.Response(status=status, body=body, content_type=content_type,
                        headers=headers)
    await resp.prepare(request)
    await resp.write_eof()
    return resp


async def _stream(request: web.Request, plan: _StreamPlan,
                  b: Behaviour) -> tuple[web.StreamResponse, bool]:
    """Write an SSE answer; with ``die_after_chunks`` close the connection midway."""
    resp = web.StreamResponse(headers={"Cache-Control": "no-cache", **b.headers})
    resp.content_type = "text/event-stream"
    await resp.prepare(request)
    for frame in plan.head:
        await resp.write(_sse(frame))
    for sent, frame in enumerate(plan.content):
        if b.die_after_chunks is not None and sent >= b.die_after_chunks:
            break
        if b.chunk_delay:
            await asyncio.sleep(b.chunk_delay)
        await resp.write(_sse(frame))
    if b.die_after_chunks is not None:
        if request.transport is not None:
            request.transport.close()
        return resp, False
    for frame in plan.tail:
        await resp.write(_sse(frame))
    if not b.omit_done:
        await resp.write(_sse("[DONE]"))
    await resp.write_eof()
    return resp, True


async def _bytes(request: web.Request, plan: _BytesPlan, b: Behaviour,
                 release: threading.Event | None) -> tuple[web.StreamResponse, bool]:
    """Write a binary answer piece by piece (chunked); ``die_after_chunks`` closes the connection midway,
    ``hold_after_chunks`` waits for ``release`` (at most 30 s) before the rest."""
    resp = web.StreamResponse(headers=b.headers)
    resp.content_type = plan.content_type
    await resp.prepare(request)
    for sent, part in enumerate(plan.parts):
        if sent and sent == b.hold_after_chunks and release is not None:
            await asyncio.to_thread(release.wait, 30)
        if b.die_after_chunks is not None and sent >= b.die_after_chunks:
            if request.transport is not None:
                request.transport.close()
            return resp, False
        if b.chunk_delay and sent:
            await asyncio.sleep(b.chunk_delay)
        await resp.write(part)
    await resp.write_eof()
    return resp, True


async def _serve(host: str, port: int, api_key: str | None) -> None:
    """Serve until SIGTERM or SIGINT."""
    await serve_until_signal(FakeUpstream(require_api_key=api_key), host, port, label="fake upstream")


def main(argv: list[str] | None = None) -> None:
    """``python -m gatehouse.testing.fake_upstream --port N [--host H] [--api-key K]``."""
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port, args.api_key))


if __name__ == "__main__":
    main()
