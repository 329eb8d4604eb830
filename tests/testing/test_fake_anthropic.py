"""The fake Anthropic API speaks Anthropic's wire format: the official ``anthropic`` SDK parses it."""

from __future__ import annotations

from typing import Iterator

import anthropic
import pytest

from gatehouse.testing.fake_anthropic import FakeAnthropic

MODEL = "claude-sonnet-4-5"
USER = [{"role": "user", "content": "what is up"}]
WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(require_api_key="sk-ant-test")
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def client(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    fake.reset()
    with anthropic.Anthropic(base_url=fake.url, api_key="sk-ant-test", max_retries=0, timeout=10) as c:
        yield c


def test_text_answer_parses(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=64, messages=USER, system="be brief")
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello! You said: what is up"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens == 6
    seen = fake.requests[-1]
    assert seen.path == "/v1/messages"
    assert "sk-ant-test" in (seen.headers.get("x-api-key"), seen.headers.get("authorization", "")[7:])
    assert seen.headers["anthropic-version"]
    assert seen.json["system"] == "be brief"


def test_stream_parses_event_by_event(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert texts == ["Hello! ", "You ", "said: ", "what ", "is ", "up"]
    assert final.content[0].text == "Hello! You said: what is up"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 6


def test_tool_use_answer_and_stream_parse(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.queue(tool_uses=[{"name": "get_weather", "input": {"city": "Paris"}, "id": "toolu_1"}])
    message = client.messages.create(model=MODEL, max_tokens=64, messages=USER, tools=[WEATHER])  # type: ignore[list-item]
    block = message.content[0]
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": "Paris"}
    assert message.stop_reason == "tool_use"

    fake.queue(text="Let me check.", tool_uses=[{"name": "get_weather", "input": {"city": "Oslo"}}])
    with client.messages.stream(model=MODEL, max_tokens=64, messages=USER, tools=[WEATHER]) as stream:  # type: ignore[list-item]
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert "input_json" in kinds and "text" in kinds
    assert final.content[0].text == "Let me check."  # type: ignore[union-attr]
    assert final.content[1].type == "tool_use" and final.content[1].input == {"city": "Oslo"}


def test_thinking_and_cache_usage_parse(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.queue(thinking="Think first.", usage={"cache_read_input_tokens": 100, "cache_creation_input_tokens": 50})
    with client.messages.stream(model=MODEL, max_tokens=4096, messages=USER,
                                thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "thinking" and final.content[0].thinking == "Think first."
    assert final.content[0].signature == "sig-fake"
    assert final.usage.cache_read_input_tokens == 100 and final.usage.cache_creation_input_tokens == 50


def test_scripted_errors_raise_the_sdk_classes(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.queue(status=529, error_type="overloaded_error", error_message="Overloaded")
    with pytest.raises(anthropic.OverloadedError, match="Overloaded"):
        client.messages.create(model=MODEL, max_tokens=64, messages=USER)
    fake.queue(status=429, error_type="rate_limit_error", error_message="slow down", headers={"retry-after": "7"})
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert caught.value.response.headers["retry-after"] == "7"
    fake.queue(stream_error_after=2, error_type="overloaded_error", error_message="Overloaded")
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        with client.messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
            list(stream.text_stream)


def test_it_refuses_what_anthropic_refuses(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="Extra inputs are not permitted"):
        client.messages.create(model=MODEL, max_tokens=64, messages=USER, extra_body={"presence_penalty": 1})
    with pytest.raises(anthropic.BadRequestError, match="must define tools"):
        client.messages.create(model=MODEL, max_tokens=64, messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
        ])
    with pytest.raises(anthropic.BadRequestError, match="non-empty"):
        client.messages.create(model=MODEL, max_tokens=64,
                               messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}])
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=client.base_url, api_key="wrong", max_retries=0).messages.create(
            model=MODEL, max_tokens=64, messages=USER)
