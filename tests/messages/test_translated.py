"""``/v1/messages`` to an OpenAI-compatible chat-only deployment: translated there and back.

The ``anthropic`` SDK against the gateway against the fake OpenAI-compatible
upstream: the chat request the upstream received, the Anthropic answer and
the Anthropic event stream the client got.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import anthropic
import httpx
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess

from .conftest import MASTER_KEY, USER

WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}


@pytest.fixture
def client(messages_gw: GatewayProcess, anthropic_client: Callable[..., anthropic.Anthropic]) -> anthropic.Anthropic:
    return anthropic_client(messages_gw)


def raw_stream(gw: GatewayProcess, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(event line, data)`` of every frame of a streamed answer."""
    with httpx.stream("POST", gw.base_url + "/v1/messages", json={**body, "stream": True}, timeout=30,
                      headers={"x-api-key": MASTER_KEY}) as response:
        raw = b"".join(response.iter_bytes())
    frames = []
    for block in raw.decode().split("\n\n"):
        if block:
            event, data = block.split("\n", 1)
            assert event.startswith("event: ") and data.startswith("data: ")
            parsed = json.loads(data[6:])
            assert parsed["type"] == event[7:]
            frames.append((event[7:], parsed))
    return frames


def test_request_is_translated_to_chat(client: anthropic.Anthropic, fake_upstream: FakeUpstream) -> None:
    message = client.messages.create(
        model="gpt", max_tokens=300, system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        stop_sequences=["END"], metadata={"user_id": "u-42"}, tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "weather?"},
                  {"role": "assistant", "content": [{"type": "tool_use", "id": "call_0", "name": "get_weather",
                                                     "input": {"city": "Oslo"}}]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_0", "content": "cold"},
                                               {"type": "text", "text": "and Rome?"}]}],
        extra_body={"top_k": 3, "temperature": 0.2},
    )
    sent = fake_upstream.requests[-1].json
    assert sent["model"] == "fake-model" and sent["max_tokens"] == 300 and sent["temperature"] == 0.2
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool", "user"]
    assert sent["messages"][2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Oslo"}'}
    assert sent["messages"][3] == {"role": "tool", "tool_call_id": "call_0", "content": "cold"}
    assert sent["stop"] == ["END"] and sent["user"] == "u-42"
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert "top_k" not in sent and "metadata" not in sent  # Anthropic's own fields stay out of a chat request
    assert message.model == "gpt" and message.id.startswith("msg_") and message.stop_reason == "end_turn"
    assert message.content[0].text == "Hello! You said: and Rome?"  # type: ignore[union-attr]
    assert message.usage.output_tokens > 0 and message.usage.input_tokens > 0


def test_tool_calls_come_back_as_tool_use(client: anthropic.Anthropic, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(tool_calls=[CALL])
    message = client.messages.create(model="gpt", max_tokens=100, tools=[WEATHER], messages=USER)
    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert block.type == "tool_use" and block.id == "call_1" and block.input == {"city": "Rome"}


def test_thinking_becomes_reasoning_effort(client: anthropic.Anthropic, fake_upstream: FakeUpstream) -> None:
    client.messages.create(model="gpt", max_tokens=20000, messages=USER,
                           thinking={"type": "enabled", "budget_tokens": 12000})
    sent = fake_upstream.requests[-1].json
    assert sent["reasoning_effort"] == "high" and "thinking" not in sent


def test_the_event_sequence(messages_gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    frames = raw_stream(messages_gw, {"model": "gpt", "max_tokens": 50, "messages": USER})
    kinds = [kind for kind, _ in frames]
    assert kinds[:3] == ["message_start", "content_block_start", "ping"]
    assert set(kinds[3:-3]) == {"content_block_delta"}
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = frames[0][1]["message"]
    assert start["id"].startswith("msg_") and start["model"] == "gpt" and start["role"] == "assistant"
    text = "".join(data["delta"]["text"] for kind, data in frames if kind == "content_block_delta")
    assert text == "Hello! You said: what is up"
    delta = frames[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn" and delta["usage"]["output_tokens"] == 6
    assert fake_upstream.requests[-1].json["stream_options"] == {"include_usage": True}


def test_streamed_tool_calls(client: anthropic.Anthropic, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(tool_calls=[CALL, {**CALL, "id": "call_2", "function": {
        "name": "get_weather", "arguments": '{"city": "Paris"}'}}])
    with client.messages.stream(model="gpt", max_tokens=100, tools=[WEATHER], messages=USER) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["tool_use", "tool_use"]
    assert [b.input for b in final.content] == [{"city": "Rome"}, {"city": "Paris"}]  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use" and final.model == "gpt"


async def test_async_stream_text(messages_gw: GatewayProcess,
                                 async_anthropic_client: Callable[..., anthropic.AsyncAnthropic]) -> None:
    client = async_anthropic_client(messages_gw)
    async with client.messages.stream(model="gpt", max_tokens=100, messages=USER) as stream:
        pieces = [piece async for piece in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(pieces) == "Hello! You said: what is up" and len(pieces) == 6
    assert final.usage.output_tokens == 6


def test_a_stream_that_dies_midway_ends_with_an_error_event(messages_gw: GatewayProcess,
                                                           fake_upstream: FakeUpstream,
                                                           client: anthropic.Anthropic) -> None:
    fake_upstream.queue(die_after_chunks=2)
    frames = raw_stream(messages_gw, {"model": "gpt", "max_tokens": 50, "messages": USER})
    assert frames[0][0] == "message_start" and frames[-1][0] == "error"
    assert frames[-1][1]["error"]["type"] == "api_error" and "message_stop" not in [k for k, _ in frames]
    fake_upstream.queue(die_after_chunks=2)
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(model="gpt", max_tokens=50, messages=USER) as stream:
            stream.get_final_message()
    assert caught.value.body["type"] == "error"  # type: ignore[index]


def test_upstream_errors_in_anthropics_shape(client: anthropic.Anthropic, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(status=429, headers={"retry-after": "3"},
                        error={"message": "slow down", "type": "requests", "param": None, "code": None})
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="gpt", max_tokens=10, messages=USER)
    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert caught.value.response.headers["retry-after"] == "3"
    fake_upstream.queue(status=500)
    with pytest.raises(anthropic.InternalServerError) as failed:
        client.messages.create(model="gpt", max_tokens=10, messages=USER)
    assert failed.value.body["error"]["type"] == "api_error"  # type: ignore[index]


def test_count_tokens_is_estimated_without_a_native_deployment(client: anthropic.Anthropic,
                                                               fake_upstream: FakeUpstream) -> None:
    short = client.messages.count_tokens(model="gpt", messages=USER)
    long = client.messages.count_tokens(model="gpt", messages=[{"role": "user", "content": "word " * 400}],
                                        system="be brief", tools=[WEATHER])
    assert 0 < short.input_tokens < long.input_tokens and long.input_tokens > 400
    assert fake_upstream.requests == []  # nothing was sent upstream
