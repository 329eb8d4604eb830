"""``/v1/messages`` to an ``anthropic/`` deployment: the client's request reaches Anthropic as sent.

The ``anthropic`` SDK (sync and async, ``create`` and ``messages.stream``) against
the gateway against the fake Anthropic API; each test checks what the fake
received and what the client got.
"""

from __future__ import annotations

from typing import Any, Callable

import anthropic
import httpx
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess
from gatehouse.testing.fake_anthropic import FAKE_ANTHROPIC_KEY, FakeAnthropic, anthropic_model_config

from .conftest import MASTER_KEY, USER, messages_config

EPHEMERAL = {"type": "ephemeral"}
LOOKUP = {"name": "lookup", "description": "Look something up",
          "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
          "cache_control": EPHEMERAL}
#: Everything Claude Code sends: cached system blocks, tools, thinking, metadata, top_k.
#: Sampling fields (the SDK takes them as ``extra_body``).
SAMPLING = {"temperature": 1, "top_k": 5}
RICH: dict[str, Any] = {
    "max_tokens": 4096, "stop_sequences": ["STOP"],
    "system": [{"type": "text", "text": "You are terse.", "cache_control": EPHEMERAL}],
    "metadata": {"user_id": "user_abc_session_1"},
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "tools": [LOOKUP], "tool_choice": {"type": "auto"},
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "find x", "cache_control": EPHEMERAL}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should look.", "signature": "sig-1"},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "x is 42"}]},
    ],
}


@pytest.fixture
def client(messages_gw: GatewayProcess, anthropic_client: Callable[..., anthropic.Anthropic]) -> anthropic.Anthropic:
    return anthropic_client(messages_gw)


def test_the_body_reaches_anthropic_as_sent(client: anthropic.Anthropic, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.queue(usage={"cache_read_input_tokens": 120, "cache_creation_input_tokens": 30})
    message = client.messages.create(model="claude", **RICH, extra_body=SAMPLING)
    seen = fake_anthropic.requests[-1]
    assert seen.path == "/v1/messages"
    assert seen.json == {**RICH, **SAMPLING, "model": "claude-sonnet-4-5"}  # nothing added, dropped or translated
    assert seen.headers["x-api-key"] == FAKE_ANTHROPIC_KEY and MASTER_KEY not in str(seen.headers)
    assert message.model == "claude" and message.id == f"msg_fake_{len(fake_anthropic.requests)}"
    assert message.content[0].type == "text" and message.content[0].text == "Hello! You said: find x"
    assert message.usage.cache_read_input_tokens == 120 and message.usage.cache_creation_input_tokens == 30


def test_anthropic_version_and_beta_headers_are_forwarded(client: anthropic.Anthropic,
                                                          fake_anthropic: FakeAnthropic) -> None:
    client.messages.create(model="claude", max_tokens=10, messages=USER, extra_headers={
        "anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14,context-1m-2025-08-07"})
    headers = fake_anthropic.requests[-1].headers
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["anthropic-beta"] == "interleaved-thinking-2025-05-14,context-1m-2025-08-07"
    client.messages.create(model="claude", max_tokens=10, messages=USER, extra_headers={"anthropic-version": "2099-01-01"})
    assert fake_anthropic.requests[-1].headers["anthropic-version"] == "2099-01-01"
    assert "anthropic-beta" not in fake_anthropic.requests[-1].headers


def test_the_deployments_betas_and_defaults_join_the_clients(
        fake_anthropic: FakeAnthropic, fake_upstream: FakeUpstream, gateway: Callable[..., GatewayProcess],
        anthropic_client: Callable[..., anthropic.Anthropic]) -> None:
    config = messages_config(fake_anthropic, fake_upstream)
    config["model_list"].append(anthropic_model_config(
        fake_anthropic.url, model_name="claude-tuned", temperature=0.3,
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"}))
    client = anthropic_client(gateway(config))
    client.messages.create(model="claude-tuned", max_tokens=10, messages=USER,
                           extra_headers={"anthropic-beta": "files-api-2025-04-14"})
    seen = fake_anthropic.requests[-1]
    assert seen.headers["anthropic-beta"] == "prompt-caching-2024-07-31,files-api-2025-04-14"
    assert seen.json["temperature"] == 0.3
    client.messages.create(model="claude-tuned", max_tokens=10, messages=USER, extra_body={"temperature": 0.9})
    assert fake_anthropic.requests[-1].json["temperature"] == 0.9  # the client's value wins


def test_stream_is_relayed_event_for_event(client: anthropic.Anthropic, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.queue(thinking="let me see", tool_uses=[{"name": "lookup", "input": {"q": "y"}, "id": "toolu_9"}],
                         text="Looking.")
    with client.messages.stream(model="claude", **RICH) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert fake_anthropic.requests[-1].json == {**RICH, "model": "claude-sonnet-4-5", "stream": True}
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[0].signature == "sig-fake"  # type: ignore[union-attr]
    assert final.content[2].input == {"q": "y"} and final.stop_reason == "tool_use"  # type: ignore[union-attr]
    assert final.model == "claude" and kinds[0] == "message_start" and kinds[-1] == "message_stop"


def test_raw_stream_bytes_are_anthropics(messages_gw: GatewayProcess, fake_anthropic: FakeAnthropic) -> None:
    body = {"model": "claude", "max_tokens": 10, "messages": USER, "stream": True}
    with httpx.stream("POST", messages_gw.base_url + "/v1/messages", json=body, timeout=30,
                      headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}) as response:
        raw = b"".join(response.iter_bytes())
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block.split(b"\n")[0] for block in raw.split(b"\n\n") if block]
    assert events[:2] == [b"event: message_start", b"event: content_block_start"] and b"event: ping" in events
    assert events[-2:] == [b"event: message_delta", b"event: message_stop"]
    assert b'"model":"claude"' in raw and b"claude-sonnet-4-5" not in raw


async def test_async_create_and_stream(messages_gw: GatewayProcess, fake_anthropic: FakeAnthropic,
                                       async_anthropic_client: Callable[..., anthropic.AsyncAnthropic]) -> None:
    client = async_anthropic_client(messages_gw)
    message = await client.messages.create(model="claude", max_tokens=10, messages=USER)
    assert message.content[0].text == "Hello! You said: what is up"  # type: ignore[union-attr]
    async with client.messages.stream(model="claude", max_tokens=10, messages=USER) as stream:
        text = "".join([piece async for piece in stream.text_stream])
    assert text == "Hello! You said: what is up"
    assert fake_anthropic.requests[-1].json["stream"] is True


def test_count_tokens_is_anthropics(client: anthropic.Anthropic, fake_anthropic: FakeAnthropic) -> None:
    counted = client.messages.count_tokens(model="claude", messages=USER, system="be brief")
    seen = fake_anthropic.requests[-1]
    assert seen.path == "/v1/messages/count_tokens"
    assert seen.json == {"model": "claude-sonnet-4-5", "messages": USER, "system": "be brief"}
    assert counted.input_tokens >= 1


def test_anthropics_errors_reach_the_client_as_they_are(client: anthropic.Anthropic,
                                                         fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.queue(status=529, error_type="overloaded_error", error_message="Overloaded")
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        client.messages.create(model="claude", max_tokens=10, messages=USER)
    assert overloaded.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}  # type: ignore[index]
    fake_anthropic.queue(status=429, error_type="rate_limit_error", error_message="slow down",
                         headers={"retry-after": "7"})
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model="claude", max_tokens=10, messages=USER)
    assert limited.value.response.headers["retry-after"] == "7"
    with pytest.raises(anthropic.BadRequestError, match="Extra inputs are not permitted"):
        client.messages.create(model="claude", max_tokens=10, messages=USER, extra_body={"bogus": 1})


def test_an_error_event_mid_stream_ends_the_stream_with_it(client: anthropic.Anthropic,
                                                           fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.queue(stream_error_after=2, error_type="overloaded_error", error_message="Overloaded")
    received = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(model="claude", max_tokens=10, messages=USER) as stream:
            for event in stream:
                received.append(event.type)
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert "text" in received  # what came before the error was delivered


def test_a_stream_cut_short_ends_with_an_error_event(messages_gw: GatewayProcess, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.queue(die_after_events=4)
    body = {"model": "claude", "max_tokens": 10, "messages": USER, "stream": True}
    with httpx.stream("POST", messages_gw.base_url + "/v1/messages", json=body, timeout=30,
                      headers={"x-api-key": MASTER_KEY}) as response:
        raw = b"".join(response.iter_bytes())
    last = raw.rstrip(b"\n").split(b"\n\n")[-1]
    assert last.startswith(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\"")
    assert b"message_stop" not in raw
