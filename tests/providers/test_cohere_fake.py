"""The fake Cohere speaks Cohere's v2 wire format: the official ``cohere`` SDK parses its answers."""

from __future__ import annotations

from typing import Iterator

import cohere
import pytest

from gatehouse.testing.fake_cohere import FakeCohere

KEY = "co-fake-key"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCohere]:
    server = FakeCohere(require_key=KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def client(fake: FakeCohere) -> Iterator[cohere.ClientV2]:
    fake.reset()
    yield cohere.ClientV2(api_key=KEY, base_url=fake.url, timeout=10)


def test_chat(client: cohere.ClientV2, fake: FakeCohere) -> None:
    answer = client.chat(model="command-a-03-2025", messages=[{"role": "user", "content": "hi there"}])
    assert answer.message.content[0].text == "Hello! You said: hi there"
    assert answer.finish_reason == "COMPLETE"
    assert answer.usage.tokens.input_tokens == 2 + 7
    assert fake.requests[0].path == "/v2/chat"
    assert fake.requests[0].headers["Authorization"] == f"Bearer {KEY}"


def test_chat_stream(client: cohere.ClientV2, fake: FakeCohere) -> None:
    fake.queue(chunks=["one ", "two"], thinking="hmm")
    events = list(client.chat_stream(model="command-a", messages=[{"role": "user", "content": "x"}]))
    kinds = [e.type for e in events]
    assert kinds[0] == "message-start" and kinds[-1] == "message-end"
    texts = [e.delta.message.content.text for e in events if e.type == "content-delta" and e.delta.message.content.text]
    thoughts = [e.delta.message.content.thinking for e in events
                if e.type == "content-delta" and e.delta.message.content.thinking]
    assert texts == ["one ", "two"] and thoughts == ["hmm"]
    assert events[-1].delta.finish_reason == "COMPLETE"
    assert events[-1].delta.usage.billed_units.output_tokens == 2


def test_tool_call(client: cohere.ClientV2, fake: FakeCohere) -> None:
    fake.queue(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    answer = client.chat(model="command-a", messages=[{"role": "user", "content": "weather?"}], tools=tools)
    call = answer.message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city":"Paris"}')
    assert answer.finish_reason == "TOOL_CALL"


def test_tool_call_stream(client: cohere.ClientV2, fake: FakeCohere) -> None:
    fake.queue(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    events = list(client.chat_stream(model="command-a", messages=[{"role": "user", "content": "weather?"}]))
    start = next(e for e in events if e.type == "tool-call-start")
    assert start.delta.message.tool_calls.function.name == "get_weather"
    pieces = "".join(e.delta.message.tool_calls.function.arguments for e in events if e.type == "tool-call-delta")
    assert pieces == '{"city":"Paris"}'
    assert events[-1].delta.finish_reason == "TOOL_CALL"


def test_embed(client: cohere.ClientV2, fake: FakeCohere) -> None:
    answer = client.embed(model="embed-v4.0", texts=["a b", "c"], input_type="search_document",
                          embedding_types=["float"])
    assert len(answer.embeddings.float_) == 2 and len(answer.embeddings.float_[0]) == 8
    assert answer.meta.billed_units.input_tokens == 3


def test_rerank(client: cohere.ClientV2) -> None:
    answer = client.rerank(model="rerank-v3.5", query="red fox", documents=["blue sky", "a red fox", "red"])
    assert [r.index for r in answer.results][:2] == [1, 2]


def test_errors(client: cohere.ClientV2, fake: FakeCohere) -> None:
    fake.queue(status=429, error={"id": "x", "message": "slow down"}, headers={"retry-after": "3"})
    with pytest.raises(cohere.errors.TooManyRequestsError) as caught:
        client.chat(model="command-a", messages=[{"role": "user", "content": "x"}],
                    request_options={"max_retries": 0})
    assert caught.value.body["message"] == "slow down"
    bad = cohere.ClientV2(api_key="wrong", base_url=fake.url)
    with pytest.raises(cohere.errors.UnauthorizedError):
        bad.chat(model="command-a", messages=[{"role": "user", "content": "x"}])
