"""Gateways shared by the end-to-end HTTP tests, and checks they all use.

Three configurations, each started once per session through the root
``gateway`` factory (same config → same process):

- ``core``: master key, the fake upstream as ``fake`` (and ``fake-slow``
  with a 0.3 s timeout), the mock provider as ``mock``; no retries,
  no cooldowns; a 0.01 MB body limit.
- ``open_gw``: no master key, one model ``mock`` on ``mock/anything``.
- ``routing``: no master key; several groups on the fake upstream,
  told apart by the upstream ``model`` the fake records; tag filtering,
  2 retries, fallbacks ``primary → backup``, a group on a closed port.

``expect_error(response, status, ...)`` checks the one error body shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess, free_port

MASTER_KEY = "sk-master-e2e-7f3a"
UPSTREAM_KEY = "sk-upstream-SECRET-91c2e0b4"
MAX_REQUEST_MB = 0.01
TIMEOUT = 30.0


@dataclass
class Gw:
    """A running gateway plus what tests need to talk to it."""

    process: GatewayProcess
    fake: FakeUpstream | None
    key: str | None

    @property
    def base_url(self) -> str:
        return self.process.base_url

    def client(self, api_key: str | None = None, base_url: str | None = None, **kw: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=base_url or self.process.api_base, api_key=api_key or self.key or "sk-none",
                             max_retries=0, timeout=TIMEOUT, **kw)

    def async_client(self, api_key: str | None = None, **kw: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.process.api_base, api_key=api_key or self.key or "sk-none",
                                  max_retries=0, timeout=TIMEOUT, **kw)

    def auth(self, key: str | None = None) -> dict[str, str]:
        key = key or self.key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def post(self, path: str, json: Any = None, *, headers: dict[str, str] | None = None,
             content: bytes | None = None, auth: bool = True) -> httpx.Response:
        sent = {**(self.auth() if auth else {}), **(headers or {})}
        if content is not None:
            sent.setdefault("Content-Type", "application/json")
            return httpx.post(self.base_url + path, content=content, headers=sent, timeout=TIMEOUT)
        return httpx.post(self.base_url + path, json=json, headers=sent, timeout=TIMEOUT)

    def get(self, path: str, *, headers: dict[str, str] | None = None, auth: bool = True,
            **kw: Any) -> httpx.Response:
        sent = {**(self.auth() if auth else {}), **(headers or {})}
        return httpx.get(self.base_url + path, headers=sent, timeout=TIMEOUT, **kw)


def fake_entry(fake_upstream: FakeUpstream, name: str, upstream_model: str, **params: Any) -> dict[str, Any]:
    return {"model_name": name, "litellm_params": {
        "model": f"openai/{upstream_model}", "api_base": fake_upstream.url, "api_key": UPSTREAM_KEY, **params}}


def core_config(fake_upstream: FakeUpstream) -> dict[str, Any]:
    return {
        "model_list": [
            fake_entry(fake_upstream, "fake", "fake-model"),
            fake_entry(fake_upstream, "fake-slow", "fake-slow-model", timeout=0.3),
            {"model_name": "mock", "litellm_params": {"model": "mock/anything"}},
        ],
        "general_settings": {"master_key": MASTER_KEY, "max_request_size_mb": MAX_REQUEST_MB},
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
    }


@pytest.fixture
def core(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream) -> Gw:
    return Gw(gateway(core_config(fake_upstream)), fake_upstream, MASTER_KEY)


OPEN_CONFIG = {"model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/anything"}}]}


@pytest.fixture
def open_gw(gateway: Callable[..., GatewayProcess]) -> Gw:
    return Gw(gateway(OPEN_CONFIG), None, None)


@pytest.fixture(scope="session")
def closed_port() -> int:
    """A port nothing listens on (free a moment ago; stable for the session's config)."""
    return free_port()


def routing_config(fake_upstream: FakeUpstream, closed_port: int) -> dict[str, Any]:
    f = fake_upstream
    return {
        "model_list": [
            fake_entry(f, "multi", "multi-a"),
            fake_entry(f, "multi", "multi-b"),
            fake_entry(f, "tagged", "tag-default", tags=["default"]),
            fake_entry(f, "tagged", "tag-a", tags=["teamA"]),
            fake_entry(f, "tagged", "tag-b", tags=["teamB"]),
            fake_entry(f, "strict", "strict-a", tags=["teamA"]),
            fake_entry(f, "single", "single-model"),
            fake_entry(f, "slow", "slow-model", timeout=0.3),
            fake_entry(f, "primary", "primary-model"),
            fake_entry(f, "backup", "backup-model"),
            {"model_name": "down", "litellm_params": {
                "model": "openai/down-model", "api_base": f"http://127.0.0.1:{closed_port}/v1",
                "api_key": UPSTREAM_KEY}},
        ],
        "router_settings": {
            "enable_tag_filtering": True, "num_retries": 2, "disable_cooldowns": True,
            "backoff_base": 0.01, "fallbacks": [{"primary": ["backup"]}],
        },
    }


@pytest.fixture
def routing(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream, closed_port: int) -> Gw:
    return Gw(gateway(routing_config(fake_upstream, closed_port)), fake_upstream, None)


def _expect_error(response: httpx.Response, status: int, *, message: str | None = None,
                  contains: str | None = None, type: str | None = None,
                  param: str | None | type[Ellipsis] = ...) -> dict[str, Any]:
    """The one error body: ``{"error": {message, type, param, code: "<status>"}}``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    assert error["code"] == str(status)
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"] not in ("None", ""), error
    assert error["param"] is None or (isinstance(error["param"], str) and error["param"] != "None"), error
    assert "None" != error["message"] and "{'" not in error["message"] and "Traceback" not in error["message"]
    if message is not None:
        assert error["message"] == message
    if contains is not None:
        assert contains in error["message"], error["message"]
    if type is not None:
        assert error["type"] == type
    if param is not ...:
        assert error["param"] == param
    assert response.headers.get("x-litellm-call-id"), "every LLM answer carries x-litellm-call-id"
    return error


@pytest.fixture
def expect_error() -> Callable[..., dict[str, Any]]:
    return _expect_error


def sse_frames(raw: bytes) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    frames = []
    for event in raw.decode().replace("\r\n", "\n").split("\n\n"):
        event = event.strip()
        if event:
            assert event.startswith("data: "), event
            frames.append(event[len("data: "):])
    return frames


@pytest.fixture
def parse_sse() -> Callable[[bytes], list[str]]:
    return sse_frames


@pytest.fixture
def upstream_key() -> str:
    """The api_key every fake-upstream deployment is configured with."""
    return UPSTREAM_KEY
