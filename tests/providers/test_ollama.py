"""``ollama_chat/`` and ``ollama/`` through the gateway: Ollama's native API, NDJSON streams, images, tools.

The ``openai`` SDK calls the gateway; the fake Ollama (proven with the
``ollama`` client in ``test_ollama_fake.py``) records the native request.
"""

from __future__ import annotations

import base64
import json
import socket
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import GatewayProcess
from gatehouse.testing.fake_guardrail import FakeGuardrail, mask
from gatehouse.testing.fake_ollama import PNG, FakeOllama

sys.path.insert(0, str(Path(__file__).parent))
from translating_support import HELLO, ISOLATED, guardrail  # noqa: E402

TOOLS = [{"type": "function", "function": {"name": "weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture(scope="module")
def ollama_fake() -> Iterator[FakeOllama]:
    server = FakeOllama()
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def guard() -> Iterator[FakeGuardrail]:
    server = FakeGuardrail(default=mask("secret"))
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(autouse=True)
def _clean(ollama_fake: FakeOllama) -> None:
    ollama_fake.reset()


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], ollama_fake: FakeOllama, guard: FakeGuardrail) -> GatewayProcess:
    base = ollama_fake.url
    return gateway({
        "model_list": [
            {"model_name": "chat", "litellm_params": {"model": "ollama_chat/llama3.1", "api_base": base,
                                                      "num_ctx": 8192, "keep_alive": "8m"}},
            {"model_name": "gen", "litellm_params": {"model": "ollama/llama3.1", "api_base": base}},
            {"model_name": "gen-drop", "litellm_params": {"model": "ollama/llama3.1", "api_base": base,
                                                          "drop_params": True}},
            {"model_name": "v1-base", "litellm_params": {"model": "ollama_chat/llama3.1", "api_base": base + "/v1"}},
            {"model_name": "env-base", "litellm_params": {"model": "ollama_chat/qwen3"}},  # OLLAMA_API_BASE
            {"model_name": "embed", "litellm_params": {"model": "ollama/nomic-embed-text", "api_base": base}},
        ],
        "guardrails": [guardrail("mask-pre", guard.url, "pre_call"),
                       guardrail("mask-post", guard.url, "post_call", streaming_sampling_rate=1)],
        "router_settings": {"num_retries": 1, "retry_after": 0},
    }, env={**ISOLATED, "OLLAMA_API_BASE": base})


def _client(gw: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.api_base, api_key="sk-test", max_retries=0, timeout=30)


def _sent(fake: FakeOllama) -> dict[str, Any]:
    return fake.requests[-1].json  # type: ignore[no-any-return]


def test_ollama_chat_uses_api_chat_with_options(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "one"},
                {"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}]
    answer = _client(gw).chat.completions.create(model="chat", messages=messages, temperature=0.1, top_p=0.5,
                                                 max_tokens=64, stop=["END"], seed=3)
    assert answer.choices[0].message.content == "Hello! You said: three"
    assert answer.choices[0].finish_reason == "stop" and answer.model == "chat"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (5, 4)
    assert ollama_fake.requests[-1].path == "/api/chat"
    assert _sent(ollama_fake) == {
        "model": "llama3.1", "stream": False, "keep_alive": "8m",
        "options": {"num_ctx": 8192, "temperature": 0.1, "top_p": 0.5, "seed": 3, "num_predict": 64, "stop": ["END"]},
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "one"},
                     {"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}]}


def test_ollama_uses_api_generate_with_one_prompt_as_litellm(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "one"},
                {"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}]
    answer = _client(gw).chat.completions.create(model="gen", messages=messages)
    sent = _sent(ollama_fake)
    assert ollama_fake.requests[-1].path == "/api/generate"
    assert sent["prompt"] == "### System:\nbe brief\n\n### User:\none\n\n### Assistant:\ntwo\n\n### User:\nthree\n\n"
    assert answer.choices[0].message.content == "Hello! You said: " + sent["prompt"]
    text = _client(gw).completions.create(model="gen", prompt="say hi", max_tokens=5)
    assert text.choices[0].text == "Hello! You said: say hi"
    assert _sent(ollama_fake) == {"model": "llama3.1", "prompt": "say hi", "stream": False, "options": {"num_predict": 5}}


def test_images_become_base64(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    png = base64.b64encode(PNG).decode()
    content = [{"type": "text", "text": "what"}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
               {"type": "image_url", "image_url": {"url": f"{ollama_fake.url}/images/cat.png"}}]
    _client(gw).chat.completions.create(model="chat", messages=[{"role": "user", "content": content}])
    assert _sent(ollama_fake)["messages"] == [{"role": "user", "content": "what", "images": [png, png]}]
    assert [r.path for r in ollama_fake.requests] == ["/images/cat.png", "/api/chat"]


def test_tool_calls_and_results(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    ollama_fake.queue(tool_calls=[{"name": "weather", "arguments": {"city": "Oslo"}},
                                  {"name": "weather", "arguments": {"city": "Rome"}}])
    client = _client(gw)
    answer = client.chat.completions.create(model="chat", messages=HELLO, tools=TOOLS)
    calls = answer.choices[0].message.tool_calls
    assert answer.choices[0].finish_reason == "tool_calls"
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Oslo"}, {"city": "Rome"}]
    assert all(c.id.startswith("call_") for c in calls) and calls[0].id != calls[1].id
    assert _sent(ollama_fake)["tools"] == TOOLS
    history = [*HELLO, answer.choices[0].message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"}]
    client.chat.completions.create(model="chat", messages=history, tools=TOOLS)
    sent = _sent(ollama_fake)["messages"]
    assert sent[1]["tool_calls"] == [{"function": {"name": "weather", "arguments": {"city": "Oslo"}}},
                                     {"function": {"name": "weather", "arguments": {"city": "Rome"}}}]
    assert sent[2] == {"role": "tool", "content": "sunny", "tool_name": "weather"}


def test_tools_on_ollama_generate_are_refused_unless_dropped(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    with pytest.raises(openai.BadRequestError, match=r"ollama does not support parameters: \['tools'\]"):
        _client(gw).chat.completions.create(model="gen", messages=HELLO, tools=TOOLS)
    _client(gw).chat.completions.create(model="gen-drop", messages=HELLO, tools=TOOLS)
    assert "tools" not in _sent(ollama_fake)


def test_stream_with_usage(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    ollama_fake.queue(chunks=["a ", "b ", "c"], finish="length")
    chunks = list(_client(gw).chat.completions.create(model="chat", messages=HELLO, stream=True,
                                                      stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "a b c"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 1 + 3
    assert _sent(ollama_fake)["stream"] is True


async def test_async_streams_of_tool_calls_and_completions(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    client = openai.AsyncOpenAI(base_url=gw.api_base, api_key="sk-test", max_retries=0, timeout=30)
    ollama_fake.queue(tool_calls=[{"name": "weather", "arguments": {"city": "Oslo"}}])
    stream = await client.chat.completions.create(model="chat", messages=HELLO, tools=TOOLS, stream=True)
    chunks = [c async for c in stream]
    calls = [t for c in chunks for t in c.choices[0].delta.tool_calls or []]
    assert len(calls) == 1 and json.loads(calls[0].function.arguments) == {"city": "Oslo"} and calls[0].index == 0
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    texts = await client.completions.create(model="gen", prompt="x y", stream=True)
    assert "".join([c.choices[0].text async for c in texts]) == "Hello! You said: x y"
    await client.close()


def test_reasoning_and_response_format(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    client = _client(gw)
    ollama_fake.queue(thinking="pondering")
    answer = client.chat.completions.create(model="chat", messages=HELLO, reasoning_effort="low",
                                            response_format={"type": "json_object"})
    assert answer.choices[0].message.model_extra["reasoning_content"] == "pondering"
    assert _sent(ollama_fake)["think"] is True and _sent(ollama_fake)["format"] == "json"
    ollama_fake.queue(text="<think>inner</think>\nouter")
    answer = client.chat.completions.create(model="gen", messages=HELLO)
    assert answer.choices[0].message.content == "outer"
    assert answer.choices[0].message.model_extra["reasoning_content"] == "inner"
    ollama_fake.queue(thinking="hmm", chunks=["ok"])
    chunks = list(client.chat.completions.create(model="chat", messages=HELLO, stream=True))
    assert [c.choices[0].delta.model_extra.get("reasoning_content") for c in chunks][1] == "hmm"


def test_embeddings(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    client = _client(gw)
    floats = client.embeddings.create(model="embed", input=["a b", "c"], encoding_format="float")
    decoded = client.embeddings.create(model="embed", input=["a b"])  # base64 on the wire, decoded by the SDK
    assert len(floats.data) == 2 and decoded.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert ollama_fake.requests[-1].path == "/api/embed"
    assert _sent(ollama_fake) == {"model": "nomic-embed-text", "input": ["a b"]}
    assert floats.usage.prompt_tokens == 3


def test_bases_v1_and_environment(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    _client(gw).chat.completions.create(model="v1-base", messages=HELLO)
    _client(gw).chat.completions.create(model="env-base", messages=HELLO)
    assert [r.path for r in ollama_fake.requests] == ["/api/chat", "/api/chat"]
    assert _sent(ollama_fake)["model"] == "qwen3"


def test_errors(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    client = _client(gw)
    ollama_fake.queue(status=404, error={"error": "model 'llama3.1' not found, try pulling it first"})
    with pytest.raises(openai.NotFoundError, match="try pulling it"):
        client.chat.completions.create(model="chat", messages=HELLO)
    for _ in range(2):
        ollama_fake.queue(status=500, error={"error": "llama runner process has terminated"})
    with pytest.raises(openai.InternalServerError, match="runner process"):
        client.chat.completions.create(model="chat", messages=HELLO)
    for _ in range(2):
        ollama_fake.queue(raw="<html>oops</html>")
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="chat", messages=HELLO)
    assert caught.value.status_code == 502 and "ollama_chat deployment 'chat'" in caught.value.message


@pytest.mark.parametrize("script", [
    {"events": [{"model": "m", "message": {"role": "assistant", "content": "hi"}, "done": False},
                {"error": "an error was encountered while running the model"}]},
    {"chunks": ["a ", "b ", "c "], "die_after": 2},
    {"events": [{"model": "m", "message": {"role": "assistant", "content": "hi"}, "done": False}, "{trunc"]},
])
def test_a_bad_stream_ends_with_one_error_event(gw: GatewayProcess, ollama_fake: FakeOllama,
                                                script: dict[str, Any]) -> None:
    ollama_fake.queue(**script)
    with httpx.stream("POST", gw.api_base + "/chat/completions", timeout=30, headers={"Authorization": "Bearer x"},
                      json={"model": "chat", "messages": HELLO, "stream": True}) as response:
        payloads = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    assert json.loads(payloads[-2])["error"]["code"] == "502"
    assert sum('"error"' in p for p in payloads) == 1


def test_guardrails_on_native_requests_and_translated_streams(gw: GatewayProcess, ollama_fake: FakeOllama) -> None:
    client = _client(gw)
    client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "my secret"}],
                                   extra_body={"guardrails": ["mask-pre"]})
    assert _sent(ollama_fake)["messages"][0]["content"] == "my [MASKED]"
    ollama_fake.queue(chunks=["a ", "secret ", "plan"])
    chunks = list(client.chat.completions.create(model="chat", messages=HELLO, stream=True,
                                                 extra_body={"guardrails": ["mask-post"]}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "a [MASKED] plan"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


LITELLM_DOCS_CONFIG = """
model_list:
  - model_name: "llama3.1"
    litellm_params:
      model: "ollama_chat/llama3.1"
      keep_alive: "8m" # Optional: Overrides default keep_alive, use -1 for Forever
    model_info:
      supports_function_calling: true
"""


def test_a_config_from_litellm_docs_with_the_default_base(gateway: Callable[..., GatewayProcess]) -> None:
    """No api_base at all: the gateway calls http://localhost:11434, where a fake Ollama listens."""
    if not _port_free(11434):
        pytest.skip("port 11434 is taken on this machine (a real Ollama?)")
    fake = FakeOllama()
    fake.start_in_thread(port=11434)
    try:
        gw = gateway(LITELLM_DOCS_CONFIG, env=ISOLATED)
        answer = _client(gw).chat.completions.create(model="llama3.1", messages=HELLO, tools=TOOLS)
        assert answer.choices[0].message.content == "Hello! You said: hi"
        assert fake.requests[-1].path == "/api/chat" and fake.requests[-1].json["keep_alive"] == "8m"
    finally:
        fake.stop_thread()
