"""``anthropic/`` deployments, streaming: Anthropic's SSE events reach the client as chat.completion.chunk deltas."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import GatewayProcess
from gatehouse.testing.fake_anthropic import FAKE_ANTHROPIC_KEY, FakeAnthropic, anthropic_model_config

USER = [{"role": "user", "content": "what is up"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(require_api_key=FAKE_ANTHROPIC_KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def gw(fake: FakeAnthropic, gateway: Callable[..., GatewayProcess]) -> GatewayProcess:
    fake.reset()
    return gateway({
        "model_list": [anthropic_model_config(fake.url)],
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
    })


@pytest.fixture
def retrying(fake: FakeAnthropic, gateway: Callable[..., GatewayProcess],
             openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    """A gateway that retries twice."""
    fake.reset()
    gw = gateway({"model_list": [anthropic_model_config(fake.url)],
                  "router_settings": {"num_retries": 2, "disable_cooldowns": True, "backoff_base": 0.001}})
    return openai_client(gw)


@pytest.fixture
def client(gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return openai_client(gw)


def chunks(client: openai.OpenAI, **kwargs: Any) -> list[Any]:
    stream = client.chat.completions.create(model=kwargs.pop("model", "claude"), stream=True,
                                            messages=kwargs.pop("messages", USER), **kwargs)
    return list(stream)


def text_of(received: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in received if c.choices)


def raw_frames(gw: GatewayProcess, body: dict[str, Any]) -> list[str]:
    """The ``data:`` payloads of the gateway's SSE answer, as sent."""
    with httpx.stream("POST", gw.api_base + "/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200, response.read()
        return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


def test_text_stream(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    received = chunks(client)
    assert text_of(received) == "Hello! You said: what is up"
    assert received[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in received][-1] == "stop"
    assert all(c.model == "claude" and c.object == "chat.completion.chunk" for c in received)
    assert len([c for c in received if c.choices[0].delta.content]) == 6  # one per text_delta
    assert fake.requests[-1].json["stream"] is True
    assert all(c.usage is None for c in received)


def test_include_usage_sends_one_usage_chunk(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(usage={"input_tokens": 10, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 2})
    received = chunks(client, stream_options={"include_usage": True})
    last = received[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == 6 and last.usage.prompt_tokens_details.cached_tokens == 30
    assert (last.usage.prompt_tokens, last.usage.total_tokens) == (42, 48)
    assert all(c.usage is None for c in received[:-1])
    assert "stream_options" not in fake.requests[-1].json


async def test_streamed_parallel_tool_calls(gw: GatewayProcess, fake: FakeAnthropic,
                                            async_openai_client: Callable[..., openai.AsyncOpenAI]) -> None:
    fake.queue(text="Checking.", tool_uses=[{"name": "get_weather", "input": {"city": "Paris"}, "id": "toolu_1"},
                                            {"name": "get_weather", "input": {"city": "Oslo"}, "id": "toolu_2"}])
    stream = await async_openai_client(gw).chat.completions.create(
        model="claude", messages=USER, tools=[WEATHER], stream=True)  # type: ignore[list-item,arg-type]
    calls: dict[int, dict[str, str]] = {}
    text, finish = "", None
    async for chunk in stream:
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            entry["name"] += (call.function.name or "") if call.function else ""
            entry["arguments"] += (call.function.arguments or "") if call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert text == "Checking." and finish == "tool_calls"
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        ("toolu_1", "get_weather", {"city": "Paris"}), ("toolu_2", "get_weather", {"city": "Oslo"})]


def test_reasoning_streams_as_reasoning_content(gw: GatewayProcess, fake: FakeAnthropic) -> None:
    fake.queue(thinking="Step one. Step two.", text="Done.")
    frames = raw_frames(gw, {"model": "claude", "messages": USER, "stream": True, "reasoning_effort": "low"})
    deltas = [json.loads(f)["choices"][0]["delta"] for f in frames[:-1]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Step one. Step two."
    assert "".join(d.get("content") or "" for d in deltas) == "Done."
    assert {"type": "thinking", "thinking": "", "signature": "sig-fake"} in [
        b for d in deltas for b in d.get("thinking_blocks", [])]
    assert frames[-1] == "[DONE]"
    assert fake.requests[-1].json["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_json_response_format_streams_as_content(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(tool_uses=[{"name": "json_tool_call", "input": {"answer": 42}}])
    received = chunks(client, response_format={"type": "json_object"})
    assert json.loads(text_of(received)) == {"answer": 42}
    assert received[-1].choices[0].finish_reason == "stop"
    assert not any(c.choices[0].delta.tool_calls for c in received)


def test_unknown_event_types_are_ignored(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "m",
               "usage": {"input_tokens": 3, "output_tokens": 1}}
    fake.queue(events=[
        {"type": "message_start", "message": message},
        {"type": "brand_new_event", "detail": "added to the API later"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "still fine"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ])
    assert text_of(chunks(client)) == "still fine"


def test_a_stream_that_dies_ends_with_one_error_event(gw: GatewayProcess, fake: FakeAnthropic) -> None:
    fake.queue(die_after_events=6)  # message_start, block start, two deltas..., then the connection drops
    frames = raw_frames(gw, {"model": "claude", "messages": USER, "stream": True})
    errors = [json.loads(f)["error"] for f in frames[:-1] if "error" in json.loads(f)]
    assert len(errors) == 1 and errors[0]["code"] == "502" and "error" in json.loads(frames[-2])
    assert frames[-1] == "[DONE]" and json.loads(frames[0])["choices"][0]["delta"]["content"] == "Hello! "
    with pytest.raises(openai.APIError):
        fake.queue(die_after_events=6)
        chunks(openai.OpenAI(base_url=gw.api_base, api_key="k", max_retries=0))


def test_a_stream_without_its_end_is_an_error(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "m",
               "usage": {"input_tokens": 3, "output_tokens": 1}}
    fake.queue(events=[
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "half"}},
    ])
    with pytest.raises(openai.APIError, match="before the message was complete"):
        chunks(client)


def test_error_event_mid_stream(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(stream_error_after=3, error_type="api_error", error_message="Internal trouble")
    received: list[Any] = []
    with pytest.raises(openai.APIError, match="Internal trouble"):
        for chunk in client.chat.completions.create(model="claude", messages=USER, stream=True):  # type: ignore[arg-type]
            received.append(chunk)
    assert text_of(received) == "Hello! You said: "


def test_overloaded_before_the_first_chunk_is_retried_then_503(retrying: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.set_default(stream_error_after=0, error_type="overloaded_error", error_message="Overloaded")
    with pytest.raises(openai.InternalServerError, match="Overloaded") as caught:
        chunks(retrying)
    assert caught.value.status_code == 503
    assert len(fake.requests) == 3  # num_retries: 2
    fake.reset()
    fake.queue(stream_error_after=0, error_type="overloaded_error", error_message="Overloaded")
    assert text_of(chunks(retrying)) == "Hello! You said: what is up"
    assert len(fake.requests) == 2


@pytest.mark.parametrize("raw", ["<html><body>502 Bad Gateway</body></html>", '{"type": "message_st'])
def test_garbage_instead_of_a_stream_is_a_502_naming_the_deployment(client: openai.OpenAI, fake: FakeAnthropic,
                                                                    raw: str) -> None:
    fake.queue(raw=raw, content_type="text/html")
    with pytest.raises(openai.APIStatusError, match="anthropic deployment 'claude'") as caught:
        chunks(client)
    assert caught.value.status_code == 502


def test_upstream_that_ignores_stream_is_converted(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(ignore_stream=True, text="whole answer")
    received = chunks(client)
    assert text_of(received) == "whole answer" and received[-1].choices[0].finish_reason == "stop"


def test_a_client_that_leaves_closes_the_anthropic_stream(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(chunk_delay=0.2)
    stream = client.chat.completions.create(model="claude", messages=USER, stream=True)  # type: ignore[arg-type]
    first = next(iter(stream))
    assert first.choices[0].delta.content == "Hello! "
    stream.close()
    assert fake.wait_until(lambda: fake.cancelled == 1, timeout=10)
