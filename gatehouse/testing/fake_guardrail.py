"""A fake Generic Guardrail API service: scriptable answers, every check recorded.

Used by the unit tests of :mod:`gatehouse.guardrails` (in the test's event
loop, :meth:`FakeGuardrail.start`) and by the end-to-end tests, where the
gateway is another process (in a thread of its own,
:meth:`FakeGuardrail.start_in_thread`). Every ``POST`` is a check, whatever
the path (so ``api_base`` may carry a prefix, and the recorded path shows
what the gateway called)::

    guard = FakeGuardrail()
    guard.start_in_thread()                       # guard.base: http://127.0.0.1:<port>
    guard.reply(Reply("BLOCKED", blocked_reason="no"), Reply())   # the next two checks, FIFO
    guard.default = mask("secret")                # when the queue is empty (Reply() = NONE)
    ...
    guard.requests[-1].body["texts"], guard.requests[-1].headers["x-api-key"]

A scripted answer is a :class:`Reply` (action, texts, HTTP status, raw body,
delay, dropped connection) or a function of the request body returning one
(:func:`mask`, :func:`block_on`). Records and the script are guarded by a
lock, so a test thread can read and script while the service's thread serves.

Run it alone: ``python -m gatehouse.testing.fake_guardrail --port 8098``
(answers NONE to everything).
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import orjson
from aiohttp import web

from .service import ThreadedService, serve_until_signal

__all__ = ["PATH", "Reply", "Responder", "Recorded", "FakeGuardrail", "mask", "block_on", "main"]

#: The Generic Guardrail API path the gateway appends to ``api_base``.
PATH = "/beta/litellm_basic_guardrail_api"


@dataclass
class Reply:
    """One scripted answer; the default is ``{"action": "NONE"}`` with HTTP 200."""

    action: str | None = "NONE"
    blocked_reason: str | None = None
    texts: list[Any] | None = None
    images: list[Any] | None = None
    tool_calls: list[Any] | None = None
    status: int = 200
    raw: bytes | None = None  # the exact body to send instead of JSON
    json: Any = None  # a JSON value to send instead of the action object
    delay: float = 0.0  # seconds before answering
    drop: bool = False  # close the connection without answering

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.json is not None:
            return orjson.dumps(self.json)
        out: dict[str, Any] = {}
        if self.action is not None:
            out["action"] = self.action
        for key in ("blocked_reason", "texts", "images", "tool_calls"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return orjson.dumps(out)


#: A function of the request body (``None`` if it was not JSON) that picks the answer.
Responder = Callable[[Any], Reply]


@dataclass
class Recorded:
    """One check as the service received it."""

    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # the parsed JSON body (None if it was not JSON)
    time: float = 0.0  # UNIX seconds when received (before the answer was chosen)


class FakeGuardrail(ThreadedService):
    """A scriptable Generic Guardrail API service (see the module docstring)."""

    thread_name = "fake-guardrail"

    def __init__(self, default: Reply | Responder | None = None) -> None:
        self.base = ""  # http://host:port once started
        self.requests: list[Recorded] = []
        self.script: list[Reply | Responder] = []
        self.default: Reply | Responder = default if default is not None else Reply()
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The full check URL, ``base + PATH``."""
        if not self.base:
            raise RuntimeError("FakeGuardrail is not started")
        return self.base + PATH

    # -- scripting and records ---------------------------------------------------
    def reply(self, *replies: Reply | Responder) -> None:
        """Queue answers, one per check; when the queue is empty, :attr:`default` answers."""
        with self._lock:
            self.script.extend(replies)

    def reset(self) -> None:
        """Forget records and queued answers; the default answers NONE again."""
        with self._lock:
            self.requests.clear()
            self.script.clear()
            self.default = Reply()

    @property
    def bodies(self) -> list[Any]:
        """The JSON bodies received, in order."""
        with self._lock:
            return [r.body for r in self.requests]

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)


    # -- serving -----------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            self.requests.append(Recorded(request.path, headers, body, time.time()))
            chosen = self.script.pop(0) if self.script else self.default
        reply = chosen if isinstance(chosen, Reply) else chosen(body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        return web.Response(status=reply.status, body=reply.body(), content_type="application/json")

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 = any free port) in the running loop; return :attr:`base`."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self.handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        self.base = f"http://{shown}:{bound}"
        return self.base

    async def stop(self) -> None:
        """Stop listening; open connections are closed (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeGuardrail:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def mask(word: str, replacement: str = "[MASKED]") -> Responder:
    """GUARDRAIL_INTERVENED with ``word`` replaced in every text when any text has it, else NONE."""

    def respond(body: Any) -> Reply:
        texts = body["texts"]
        if any(word in t for t in texts):
            return Reply("GUARDRAIL_INTERVENED", texts=[t.replace(word, replacement) for t in texts])
        return Reply("NONE")

    return respond


def block_on(word: str, reason: str | None = "bad word") -> Responder:
    """BLOCKED (with ``reason``) when any text contains ``word``, else NONE."""

    def respond(body: Any) -> Reply:
        if any(word in t for t in body["texts"]):
            return Reply("BLOCKED", blocked_reason=reason)
        return Reply("NONE")

    return respond


async def _serve(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    await serve_until_signal(FakeGuardrail(), host, port, label="fake guardrail", suffix=PATH)


def main(argv: list[str] | None = None) -> None:
    """``python -m gatehouse.testing.fake_guardrail --port N [--host H]``."""
    parser = argparse.ArgumentParser(description="Fake Generic Guardrail API service (answers NONE)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8098)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
