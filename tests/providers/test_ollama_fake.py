"""The fake Ollama speaks Ollama's native API: the official ``ollama`` client parses its answers."""

from __future__ import annotations

from typing import Iterator

import ollama
import pytest

from gatehouse.testing.fake_ollama import PNG, FakeOllama


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOllama]:
    server = FakeOllama()
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def client(fake: FakeOllama) -> ollama.Client:
    fake.reset()
    return ollama.Client(host=fake.url, timeout=10)


def test_chat(client: ollama.Client, fake: FakeOllama) -> None:
    answer = client.chat(model="llama3", messages=[{"role": "user", "content": "hi there", "images": [PNG]}])
    assert answer.message.content == "Hello! You said: hi there"
    assert answer.done and answer.done_reason == "stop" and answer.eval_count == 5
    sent = fake.requests[0]
    assert sent.path == "/api/chat" and sent.json["stream"] is False
    assert sent.json["messages"][0]["images"]  # the client sends images as base64


def test_chat_stream(client: ollama.Client, fake: FakeOllama) -> None:
    fake.queue(chunks=["one ", "two"], thinking="hmm")
    parts = list(client.chat(model="llama3", messages=[{"role": "user", "content": "x"}], stream=True))
    assert "".join(p.message.content or "" for p in parts) == "one two"
    assert parts[0].message.thinking == "hmm"
    assert parts[-1].done and parts[-1].prompt_eval_count == 1


def test_tool_calls(client: ollama.Client, fake: FakeOllama) -> None:
    fake.queue(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    answer = client.chat(model="llama3", messages=[{"role": "user", "content": "weather?"}],
                         tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {
                             "type": "object", "properties": {"city": {"type": "string"}}}}}])
    call = answer.message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.arguments == {"city": "Paris"}
    fake.queue(tool_calls=[{"name": "get_weather", "arguments": {"city": "Rome"}}])
    parts = list(client.chat(model="llama3", messages=[{"role": "user", "content": "x"}], stream=True))
    calls = [c for p in parts for c in (p.message.tool_calls or [])]
    assert calls[0].function.arguments == {"city": "Rome"}


def test_generate_and_stream(client: ollama.Client) -> None:
    assert client.generate(model="llama3", prompt="hello").response == "Hello! You said: hello"
    parts = list(client.generate(model="llama3", prompt="a b", stream=True))
    assert "".join(p.response for p in parts) == "Hello! You said: a b" and parts[-1].done


def test_embed(client: ollama.Client) -> None:
    answer = client.embed(model="nomic-embed-text", input=["a", "b c"])
    assert len(answer.embeddings) == 2 and len(answer.embeddings[0]) == 8


def test_errors(client: ollama.Client, fake: FakeOllama) -> None:
    fake.queue(status=404, error={"error": "model 'nope' not found"})
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="nope", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 404 and "not found" in caught.value.error
    fake.queue(events=[{"error": "the model crashed"}])
    with pytest.raises(ollama.ResponseError):
        list(client.chat(model="llama3", messages=[{"role": "user", "content": "x"}], stream=True))
