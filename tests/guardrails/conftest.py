"""A fake Generic Guardrail API service, started in-process on a free port.

Tests script its answers (:meth:`FakeGuardrail.reply`: one :class:`Reply` or
a function of the request body per request, FIFO; the default answers NONE)
and read what it received (:attr:`FakeGuardrail.requests`: path, headers,
JSON body).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson
import pytest
from aiohttp import web

from gatehouse.auth.identity import UserAPIKeyAuth
from gatehouse.guardrails.config import parse_guardrails
from gatehouse.guardrails.plugin import GenericGuardrail
from gatehouse.metrics import Metrics

PATH = "/beta/litellm_basic_guardrail_api"


@dataclass
class Reply:
    """One scripted answer."""

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


Responder = Callable[[dict[str, Any]], Reply]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeGuardrail:
    base: str = ""
    requests: list[Recorded] = field(default_factory=list)
    script: list[Reply | Responder] = field(default_factory=list)
    default: Reply | Responder = field(default_factory=Reply)

    def reply(self, *replies: Reply | Responder) -> None:
        """Queue answers, one per request; when the queue is empty, ``default`` answers."""
        self.script.extend(replies)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = orjson.loads(raw)
        self.requests.append(Recorded(request.path, {k.lower(): v for k, v in request.headers.items()}, body))
        chosen = self.script.pop(0) if self.script else self.default
        reply = chosen if isinstance(chosen, Reply) else chosen(body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        return web.Response(status=reply.status, body=reply.body(), content_type="application/json")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mask(word: str, replacement: str = "[MASKED]") -> Responder:
    """A responder that rewrites ``word`` in every text (GUARDRAIL_INTERVENED), else NONE."""

    def respond(body: dict[str, Any]) -> Reply:
        texts = body["texts"]
        if any(word in t for t in texts):
            return Reply("GUARDRAIL_INTERVENED", texts=[t.replace(word, replacement) for t in texts])
        return Reply("NONE")

    return respond


def block_on(word: str, reason: str | None = "bad word") -> Responder:
    def respond(body: dict[str, Any]) -> Reply:
        if any(word in t for t in body["texts"]):
            return Reply("BLOCKED", blocked_reason=reason)
        return Reply("NONE")

    return respond


@pytest.fixture
async def fake_guardrail():
    service = FakeGuardrail()
    app = web.Application()
    app.router.add_post("/{tail:.*}", service.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    service.base = f"http://127.0.0.1:{port}"
    try:
        yield service
    finally:
        await runner.cleanup()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def make_guardrail(metrics):
    """``await make_guardrail(api_base, mode=..., **litellm_params)`` → a started plugin (default_on unless told)."""
    started: list[GenericGuardrail] = []

    async def make(api_base: str, *, name: str = "g1", mode: Any = "pre_call", **params: Any) -> GenericGuardrail:
        params.setdefault("default_on", True)
        entry = {
            "guardrail_name": name,
            "litellm_params": {"guardrail": "generic_guardrail_api", "mode": mode, "api_base": api_base, **params},
        }
        (config,) = parse_guardrails([entry], source="test.yaml")
        plugin = GenericGuardrail(config, metrics=metrics)
        await plugin.startup()
        started.append(plugin)
        return plugin

    yield make
    for plugin in started:
        await plugin.shutdown()


@pytest.fixture
def user() -> UserAPIKeyAuth:
    return UserAPIKeyAuth(api_key="hash-abc", token="hash-abc", key_alias="k1", user_id="u1", team_id="t1")


def request_data(user: UserAPIKeyAuth, body: dict[str, Any], *, call_type: str = "completion") -> dict[str, Any]:
    """A ``data`` dict as the gateway hands it to hooks (docs/architecture.md)."""
    data = dict(body)
    metadata = dict(data.pop("metadata", None) or {})
    metadata.update(user.logging_fields())
    metadata.update(
        {
            "headers": {
                "host": "gw.local",
                "authorization": "Bearer sk-secret",
                "content-type": "application/json",
                "x-stainless-lang": "python",
                "x-request-id": "r-1",
                "x-litellm-api-key": "sk-other",
                "x-tenant": "acme",
            },
            "endpoint": "/v1/chat/completions",
            "call_type": call_type,
        }
    )
    data["metadata"] = metadata
    data["litellm_call_id"] = "call-123"
    data["litellm_trace_id"] = "trace-456"
    data["proxy_server_request"] = {"url": "http://gw.local/v1/chat/completions", "method": "POST", "headers": metadata["headers"]}
    return data


@pytest.fixture
def gr():
    """The helpers of this file, for tests (conftest modules are not imported by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(Reply=Reply, mask=mask, block_on=block_on, request_data=request_data, PATH=PATH)
