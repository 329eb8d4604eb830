"""A fake Anthropic Messages API: deterministic answers, scriptable failures, strict validation.

Serves ``POST /v1/messages`` (JSON, or ``text/event-stream`` with ``"stream": true``,
framed ``event: <type>\\ndata: <json>\\n\\n`` as Anthropic does). It checks what
Anthropic checks (``anthropic-version`` and a key, top-level fields, non-empty text
blocks, ``tool_result`` ids, tools defined when the history uses them, thinking
budgets; see :func:`~gatehouse.testing.fake_anthropic_answers.validate`) and
answers 400 ``invalid_request_error`` otherwise.

Default answer: ``"Hello! You said: <last user text>"``, streamed one word per
``text_delta``. How to answer is a :class:`Script`, from ``set_default(...)``
then ``queue(...)`` (FIFO, one per request; later wins). Every request is in
:attr:`FakeAnthropic.requests` (method, path, headers with lower-case names, parsed body).

The official ``anthropic`` SDK parses what it serves (``tests/testing/test_fake_anthropic.py``).
Run it alone: ``python -m gatehouse.testing.fake_anthropic --port 8002``.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from typing import Any

import orjson
from aiohttp import web

from .fake_answers import RecordedRequest
from .fake_anthropic_answers import Script, error_body, message, stream_events, validate
from .service import ThreadedService, serve_until_signal

__all__ = ["FakeAnthropic", "Script", "anthropic_model_config", "main"]

#: The key :func:`anthropic_model_config` configures (and a fake started with it requires).
FAKE_ANTHROPIC_KEY = "sk-ant-fake-key-0000"


def anthropic_model_config(url: str, model_name: str = "claude", model: str = "claude-sonnet-4-5",
                           **params: Any) -> dict[str, Any]:
    """A ``model_list`` entry for an ``anthropic/`` deployment at the fake on ``url``;
    ``params`` are added to (or override) its ``litellm_params``."""
    return {"model_name": model_name, "litellm_params": {
        "model": f"anthropic/{model}", "api_base": url, "api_key": FAKE_ANTHROPIC_KEY, **params}}


class FakeAnthropic(ThreadedService):
    """The fake Anthropic API server: start it, script it, inspect what it received (thread-safe)."""

    thread_name = "fake-anthropic"

    def __init__(self, require_api_key: str | None = None) -> None:
        """``require_api_key``: answer 401 unless ``x-api-key`` (or a bearer token) is this key."""
        self.require_api_key = require_api_key
        self.requests: list[RecordedRequest] = []
        self.cancelled = 0
        """Streams whose client left before the last event was written."""
        self._queue: list[dict[str, Any]] = []
        self._default: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The base URL (``http://host:port``): what ``api_base`` and the SDK's ``base_url`` take."""
        if self._url is None:
            raise RuntimeError("FakeAnthropic is not started")
        return self._url

    # -- scripting ---------------------------------------------------------
    def queue(self, **script: Any) -> None:
        """Append a script consumed by the next request (FIFO)."""
        Script.from_dict(script)
        with self._lock:
            self._queue.append(script)

    def set_default(self, **script: Any) -> None:
        """Replace the script used under queued ones."""
        Script.from_dict(script)
        with self._lock:
            self._default = script

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._default = {}
            self.requests.clear()
            self.cancelled = 0

    def bodies(self) -> list[Any]:
        """The parsed bodies received so far."""
        with self._lock:
            return [r.json for r in self.requests]

    def _take(self, rec: RecordedRequest) -> tuple[Script, int]:
        with self._lock:
            self.requests.append(rec)
            queued = self._queue.pop(0) if self._queue else {}
            return Script.from_dict({**self._default, **queued}), len(self.requests)

    # -- lifecycle ---------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self._url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- serving -----------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        headers = {name.lower(): value for name, value in request.headers.items()}
        rec = RecordedRequest(request.method, request.path, headers, body, None, time.time())
        script, number = self._take(rec)
        rid = f"fake_{number}"
        refused = self._refuse(request, body)
        if refused is not None or not isinstance(body, dict):
            return refused or _json(400, error_body("invalid_request_error", "the body must be a JSON object"), {})
        if script.delay:
            await asyncio.sleep(script.delay)
        if script.status is not None:
            if script.raw is not None:  # an error page from something in front of the API
                return web.Response(status=script.status, body=script.raw.encode(), headers=script.headers,
                                    content_type=script.content_type or "text/html")
            return _json(script.status, error_body(script.error_type, script.error_message, f"req_{rid}"),
                         script.headers)
        if script.raw is not None and not body.get("stream"):
            return web.Response(body=script.raw.encode(), content_type=script.content_type or "application/json")
        if body.get("stream") is True and not script.ignore_stream:
            try:
                return await _stream(request, body, script, rid)
            except (asyncio.CancelledError, ConnectionError):
                with self._lock:
                    self.cancelled += 1
                raise
        return _json(200, orjson.dumps(message(body, script, rid)), script.headers)

    def _refuse(self, request: web.Request, body: Any) -> web.Response | None:
        key = request.headers.get("x-api-key")
        bearer = request.headers.get("authorization", "")
        if not key and not bearer.startswith("Bearer "):
            return _json(401, error_body("authentication_error", "x-api-key header is required"), {})
        if self.require_api_key and self.require_api_key not in (key, bearer[7:]):
            return _json(401, error_body("authentication_error", "invalid x-api-key"), {})
        if not request.headers.get("anthropic-version"):
            return _json(400, error_body("invalid_request_error", "anthropic-version: header is required"), {})
        problem = validate(body)
        if problem is not None:
            return _json(400, error_body("invalid_request_error", problem), {})
        return None


def _json(status: int, body: bytes, headers: dict[str, str]) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _frame(event: Any) -> bytes:
    if isinstance(event, str):
        return event.encode()
    return b"event: " + str(event.get("type")).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


async def _stream(request: web.Request, body: dict[str, Any], script: Script, rid: str) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Cache-Control": "no-cache", **script.headers})
    resp.content_type = script.content_type or "text/event-stream"
    await resp.prepare(request)
    if script.raw is not None:
        await resp.write(script.raw.encode())
        await resp.write_eof()
        return resp
    for sent, event in enumerate(stream_events(body, script, rid)):
        if script.die_after_events is not None and sent >= script.die_after_events:
            if request.transport is not None:
                request.transport.close()
            return resp
        if script.chunk_delay and isinstance(event, dict) and event.get("type") == "content_block_delta":
            await asyncio.sleep(script.chunk_delay)
        await resp.write(_frame(event))
    await resp.write_eof()
    return resp


def main(argv: list[str] | None = None) -> None:
    """``python -m gatehouse.testing.fake_anthropic --port N [--host H] [--api-key K]``."""
    parser = argparse.ArgumentParser(description="Fake Anthropic Messages API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--api-key", default=None, help="require this x-api-key")
    args = parser.parse_args(argv)
    asyncio.run(serve_until_signal(FakeAnthropic(require_api_key=args.api_key), args.host, args.port,
                                   label="fake anthropic"))


if __name__ == "__main__":
    main()
