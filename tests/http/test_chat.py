"""Chat completions through the real server, with the official SDK, against the fake upstream."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gatehouse.testing import FakeUpstream

MESSAGES = [{"role": "user", "content": "hello gateway"}]


@pytest.mark.parametrize("prefix", ["/v1", ""])
def test_chat_with_and_without_v1(core, fake_upstream: FakeUpstream, prefix: str) -> None:
    with core.client(base_url=core.base_url + prefix) as client:
        response = client.chat.completions.create(model="fake", messages=MESSAGES)
    assert response.choices[0].message.content == "Hello! You said: hello gateway"
    assert response.choices[0].finish_reason == "stop"
    assert response.model == "fake"  # the client's model group, not the upstream's name
    assert response.usage is not None and response.usage.total_tokens == 2 + 5
    [sent] = fake_upstream.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.json["model"] == "fake-model"
    assert sent.json["messages"] == MESSAGES


async def test_chat_async_sdk(core, fake_upstream: FakeUpstream) -> None:
    async with core.async_client() as client:
        response = await client.chat.completions.create(model="fake", messages=MESSAGES, temperature=0.25)
    assert response.choices[0].message.content == "Hello! You said: hello gateway"
    assert fake_upstream.requests[0].json["temperature"] == 0.25


def test_unknown_fields_pass_through_untouched(core, fake_upstream: FakeUpstream) -> None:
    extra = {"top_k": 7, "vendor_options": {"nested": [1, {"deep": None}], "flag": True}, "seed": 42}
    with core.client() as client:
        client.chat.completions.create(model="fake", messages=MESSAGES, extra_body=extra,
                                       max_tokens=12, user="end-user-1")
    body = fake_upstream.requests[0].json
    for name, value in extra.items():
        assert body[name] == value
    assert body["max_tokens"] == 12 and body["user"] == "end-user-1"


def test_gateway_fields_are_not_sent_upstream(core, fake_upstream: FakeUpstream) -> None:
    with core.client() as client:
        client.chat.completions.create(model="fake", messages=MESSAGES, extra_body={
            "metadata": {"trace": "t-1"}, "tags": ["x"], "litellm_call_id": "abc", "mock_response": "no"})
    body = fake_upstream.requests[0].json
    assert set(body) == {"model", "messages"}


def test_upstream_gets_the_deployment_key_never_the_gateway_key(core, fake_upstream: FakeUpstream,
                                                                 upstream_key: str) -> None:
    with core.client() as client:
        client.chat.completions.create(model="fake", messages=MESSAGES)
    headers = {k.lower(): v for k, v in fake_upstream.requests[0].headers.items()}
    assert headers["authorization"] == f"Bearer {upstream_key}"
    assert core.key not in " ".join(headers.values())


def test_tool_calls_are_relayed(core, fake_upstream: FakeUpstream) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    fake_upstream.queue(tool_calls=[call])
    with core.client() as client:
        response = client.chat.completions.create(
            model="fake", messages=MESSAGES,
            tools=[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}])
    message = response.choices[0].message
    assert response.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None and message.tool_calls[0].function.name == "lookup"
    assert message.tool_calls[0].function.arguments == '{"q": "x"}'
    assert fake_upstream.requests[0].json["tools"][0]["function"]["name"] == "lookup"


def test_call_ids_are_the_gateways_own_whatever_the_client_sends(core) -> None:
    """A client's x-litellm-call-id is a trace value only; every request gets its own call id."""
    ids = set()
    for _ in range(2):
        response = core.post("/v1/chat/completions", {"model": "fake", "messages": MESSAGES},
                             headers={"x-litellm-call-id": "my-call-1234"})
        assert response.status_code == 200
        assert len(response.headers["x-litellm-call-id"]) == 36  # a fresh UUID
        ids.add(response.headers["x-litellm-call-id"])
    assert len(ids) == 2 and "my-call-1234" not in ids


async def test_concurrent_requests_do_not_mix(core, fake_upstream: FakeUpstream) -> None:
    async with core.async_client() as client:
        async def ask(i: int) -> tuple[int, str]:
            if i % 2:
                stream = await client.chat.completions.create(
                    model="fake", messages=[{"role": "user", "content": f"number {i}"}], stream=True)
                return i, "".join([c.choices[0].delta.content or "" async for c in stream])
            response = await client.chat.completions.create(
                model="fake", messages=[{"role": "user", "content": f"number {i}"}])
            return i, response.choices[0].message.content or ""

        answers = await asyncio.gather(*(ask(i) for i in range(24)))
    assert all(text == f"Hello! You said: number {i}" for i, text in answers)
    assert len(fake_upstream.requests) == 24


def test_client_going_away_cancels_the_upstream_call(core, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(delay=3)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(core.process.api_base + "/chat/completions", json={"model": "fake", "messages": MESSAGES},
                   headers=core.auth(), timeout=httpx.Timeout(30, read=0.3))
    assert fake_upstream.wait_until(lambda: fake_upstream.cancelled == 1, timeout=2)
    assert fake_upstream.completed == 0
