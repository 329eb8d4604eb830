"""Every error on ``/v1/messages`` is Anthropic's error body, with the status the ``anthropic`` SDK
maps to the right exception: authentication, malformed bodies, unknown models, access, limits,
budgets, sizes and methods. Never an OpenAI body, never a traceback.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import anthropic
import httpx
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess
from gatehouse.testing.fake_anthropic import FakeAnthropic

from .conftest import MASTER_KEY, USER, messages_config

GOOD = {"model": "gpt", "max_tokens": 10, "messages": USER}


def post(gw: GatewayProcess, body: Any = None, *, content: bytes | None = None, key: str | None = MASTER_KEY,
         path: str = "/v1/messages", headers: dict[str, str] | None = None) -> httpx.Response:
    sent = {**({"x-api-key": key} if key else {}), **(headers or {})}
    if content is not None:
        return httpx.post(gw.base_url + path, content=content, headers=sent, timeout=30)
    return httpx.post(gw.base_url + path, json=body, headers=sent, timeout=30)


def anthropic_error(response: httpx.Response, status: int, kind: str) -> str:
    """Check the error body's shape; its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) <= {"type", "error", "request_id"} and body["type"] == "error", body
    assert set(body["error"]) == {"type", "message"} and body["error"]["type"] == kind, body
    assert "Traceback" not in body["error"]["message"]
    return str(body["error"]["message"])


def key(gw: GatewayProcess, **fields: Any) -> str:
    made = httpx.post(gw.base_url + "/key/generate", json=fields, headers={"Authorization": f"Bearer {MASTER_KEY}"})
    assert made.status_code == 200, made.text
    return str(made.json()["key"])


def test_a_key_in_x_api_key_or_a_bearer_token(messages_gw: GatewayProcess,
                                              anthropic_client: Callable[..., anthropic.Anthropic]) -> None:
    assert anthropic_client(messages_gw).messages.create(**GOOD).content  # x-api-key (the SDK's default)
    bearer = anthropic_client(messages_gw, api_key=None, auth_token=MASTER_KEY)
    assert bearer.messages.create(**GOOD).content
    assert post(messages_gw, GOOD, key=None, headers={"Authorization": f"Bearer {MASTER_KEY}"}).status_code == 200


def test_authentication_errors(messages_gw: GatewayProcess,
                               anthropic_client: Callable[..., anthropic.Anthropic]) -> None:
    assert "No api key" in anthropic_error(post(messages_gw, GOOD, key=None), 401, "authentication_error")
    anthropic_error(post(messages_gw, GOOD, key="sk-wrong"), 401, "authentication_error")
    with pytest.raises(anthropic.AuthenticationError):
        anthropic_client(messages_gw, api_key="sk-wrong").messages.create(**GOOD)


@pytest.mark.parametrize("content, says", [
    (b"{not json", "JSON"), (b"", "empty"), (b"[1, 2]", "object"), (b'"hello"', "object"),
    (b'{"model": "gpt", "max_tokens": 10, "messages": "hello"}', "messages"),
    (b'{"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}', "max_tokens"),
    (b'{"model": "gpt", "max_tokens": "ten", "messages": []}', "max_tokens"),
    (b'{"model": 7, "max_tokens": 10, "messages": []}', "model"),
    (b'{"model": "gpt", "max_tokens": 10, "messages": [{"role": "robot", "content": "hi"}]}', "role"),
    (b'{"model": "gpt", "max_tokens": 10, "messages": [{"role": "user", "content": 5}]}', "content"),
    (b'{"model": "gpt", "max_tokens": 10, "system": 3, "messages": []}', "system"),
])
def test_malformed_bodies(messages_gw: GatewayProcess, content: bytes, says: str) -> None:
    assert says in anthropic_error(post(messages_gw, content=content), 400, "invalid_request_error")


def test_unknown_model(messages_gw: GatewayProcess, anthropic_client: Callable[..., anthropic.Anthropic]) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client(messages_gw).messages.create(model="nope", max_tokens=10, messages=USER)
    assert "Invalid model name passed in model=nope" in caught.value.body["error"]["message"]  # type: ignore[index]
    anthropic_error(post(messages_gw, {**GOOD, "model": "nope", "stream": True}), 400, "invalid_request_error")


def test_too_large_and_wrong_method(fake_anthropic: FakeAnthropic, fake_upstream: FakeUpstream,
                                    gateway: Callable[..., GatewayProcess]) -> None:
    gw = gateway(messages_config(fake_anthropic, fake_upstream, general_settings={"max_request_size_mb": 0.01}))
    big = {**GOOD, "messages": [{"role": "user", "content": "x" * 20000}]}
    anthropic_error(post(gw, big), 413, "request_too_large")
    got = httpx.get(gw.base_url + "/v1/messages", headers={"x-api-key": MASTER_KEY})
    anthropic_error(got, 405, "invalid_request_error")
    anthropic_error(post(gw, content=b"{", path="/v1/messages/count_tokens"), 400, "invalid_request_error")


def test_model_access_rate_limit_and_budget(messages_gw: GatewayProcess,
                                            anthropic_client: Callable[..., anthropic.Anthropic]) -> None:
    only_claude = anthropic_client(messages_gw, api_key=key(messages_gw, models=["claude"]))
    with pytest.raises(anthropic.PermissionDeniedError) as denied:
        only_claude.messages.create(**GOOD)
    assert denied.value.body["error"]["type"] == "permission_error"  # type: ignore[index]

    limited = anthropic_client(messages_gw, api_key=key(messages_gw, rpm_limit=1))
    limited.messages.create(**GOOD)
    with pytest.raises(anthropic.RateLimitError) as slowed:
        limited.messages.create(**GOOD)
    assert slowed.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert int(slowed.value.response.headers["retry-after"]) >= 1

    spender = key(messages_gw, max_budget=0.0)
    with pytest.raises(anthropic.UnprocessableEntityError) as broke:
        anthropic_client(messages_gw, api_key=spender).messages.create(**GOOD)
    assert broke.value.body["error"]["type"] == "billing_error"  # type: ignore[index]
    assert broke.value.body["error"]["message"].startswith("Budget has been exceeded!")  # type: ignore[index]


def test_errors_never_leak_as_openai_bodies_on_count_tokens(messages_gw: GatewayProcess) -> None:
    path = "/v1/messages/count_tokens"
    anthropic_error(post(messages_gw, {"model": "gpt", "messages": USER}, key=None, path=path), 401,
                    "authentication_error")
    anthropic_error(post(messages_gw, {"model": "nope", "messages": USER}, path=path), 400, "invalid_request_error")
    anthropic_error(post(messages_gw, {"model": "gpt"}, path=path), 400, "invalid_request_error")
    started = time.monotonic()
    assert post(messages_gw, {"model": "gpt", "messages": USER}, path=path).json()["input_tokens"] > 0
    assert time.monotonic() - started < 30


def test_claude_codes_event_log_is_acknowledged(messages_gw: GatewayProcess) -> None:
    answer = post(messages_gw, {"events": []}, path="/api/event_logging/batch")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    anthropic_error(post(messages_gw, {"events": []}, key=None, path="/api/event_logging/batch"), 401,
                    "authentication_error")
