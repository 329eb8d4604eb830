"""``cohere/`` through the gateway: OpenAI requests become Cohere v2 requests, and back.

The ``openai`` SDK calls the gateway; the fake Cohere (proven with the
``cohere`` SDK in ``test_cohere_fake.py``) records the native request and
answers in Cohere's format.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import GatewayProcess
from gatehouse.testing.fake_cohere import FakeCohere
from gatehouse.testing.fake_guardrail import FakeGuardrail, mask

sys.path.insert(0, str(Path(__file__).parent))
from translating_support import HELLO, ISOLATED, check_config, guardrail  # noqa: E402

KEY = "co-key-51b2"
TOOLS = [{"type": "function", "function": {"name": n, "description": f"the {n}", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}} for n in ("weather", "time")]


@pytest.fixture(scope="module")
def cohere_fake() -> Iterator[FakeCohere]:
    server = FakeCohere(require_key=KEY)
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
def _clean(cohere_fake: FakeCohere) -> None:
    cohere_fake.reset()


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], cohere_fake: FakeCohere, guard: FakeGuardrail) -> GatewayProcess:
    def entry(name: str, **params: Any) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {"model": "cohere/command-a-03-2025",
                                                        "api_base": cohere_fake.url, **params}}
    return gateway({
        "model_list": [
            entry("command", api_key=KEY),
            entry("command-drop", api_key=KEY, drop_params=True),
            entry("command-env"),  # COHERE_API_KEY
            {"model_name": "embed", "litellm_params": {"model": "cohere/embed-v4.0", "api_base": cohere_fake.url,
                                                       "api_key": KEY}},
        ],
        "guardrails": [guardrail("mask-pre", guard.url, "pre_call"),
                       guardrail("mask-post", guard.url, "post_call", streaming_sampling_rate=1)],
        "router_settings": {"num_retries": 2, "retry_after": 0},
    }, env={**ISOLATED, "COHERE_API_KEY": KEY})


def _client(gw: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.api_base, api_key="sk-test", max_retries=0, timeout=30)


def _sent(fake: FakeCohere) -> dict[str, Any]:
    return fake.requests[-1].json  # type: ignore[no-any-return]


def test_chat_translates_both_ways(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "one"},
                {"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}]
    answer = _client(gw).chat.completions.create(model="command", messages=messages, temperature=0.3, top_p=0.9,
                                                 stop="END", max_tokens=50, seed=7)
    assert answer.choices[0].message.content == "Hello! You said: three"
    assert answer.choices[0].finish_reason == "stop" and answer.model == "command"
    assert answer.usage.prompt_tokens == 5 + 7 and answer.usage.completion_tokens == 4
    sent = _sent(cohere_fake)
    assert cohere_fake.requests[-1].path == "/v2/chat"
    assert cohere_fake.requests[-1].headers["Authorization"] == f"Bearer {KEY}"
    assert sent == {"model": "command-a-03-2025", "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}],
        "temperature": 0.3, "seed": 7, "p": 0.9, "stop_sequences": ["END"], "max_tokens": 50}


def test_images_as_data_uri_and_url(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    content = [{"type": "text", "text": "what is this"},
               {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
               {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}}]
    _client(gw).chat.completions.create(model="command", messages=[{"role": "user", "content": content}])
    assert _sent(cohere_fake)["messages"][0]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}}]


def test_parallel_tool_calls_and_tool_results(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    cohere_fake.queue(tool_calls=[{"id": "c1", "name": "weather", "arguments": {"city": "Oslo"}},
                                  {"id": "c2", "name": "time", "arguments": {"city": "Oslo"}}])
    client = _client(gw)
    answer = client.chat.completions.create(model="command", messages=HELLO, tools=TOOLS, tool_choice="required")
    message = answer.choices[0].message
    assert answer.choices[0].finish_reason == "tool_calls" and message.content is None
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("c1", "weather", {"city": "Oslo"}), ("c2", "time", {"city": "Oslo"})]
    sent = _sent(cohere_fake)
    assert sent["tool_choice"] == "REQUIRED" and [t["function"]["name"] for t in sent["tools"]] == ["weather", "time"]
    history = [*HELLO, {**message.model_dump(exclude_none=True), "content": "checking both"},
               {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
               {"role": "tool", "tool_call_id": "c2", "content": "noon"}]
    client.chat.completions.create(model="command", messages=history, tools=TOOLS,
                                   tool_choice={"type": "function", "function": {"name": "time"}})
    sent = _sent(cohere_fake)
    assert sent["messages"][1] == {"role": "assistant", "tool_plan": "checking both", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}},
        {"id": "c2", "type": "function", "function": {"name": "time", "arguments": '{"city":"Oslo"}'}}]}
    assert sent["messages"][2:] == [{"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                                    {"role": "tool", "tool_call_id": "c2", "content": "noon"}]
    assert sent["tool_choice"] == "REQUIRED" and [t["function"]["name"] for t in sent["tools"]] == ["time"]


def test_stream_text_and_usage(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    cohere_fake.queue(chunks=["Hel", "lo ", "there"], usage={"cached_tokens": 3})
    chunks = list(_client(gw).chat.completions.create(model="command", messages=HELLO, stream=True,
                                                      stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello there"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 8
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 3
    assert all(c.model == "command" for c in chunks)
    assert _sent(cohere_fake)["stream"] is True


async def test_stream_tool_call_argument_deltas(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    cohere_fake.queue(tool_calls=[{"id": "c1", "name": "weather", "arguments": {"city": "Oslo"}},
                                  {"id": "c2", "name": "time", "arguments": {"city": "Rome"}}])
    client = openai.AsyncOpenAI(base_url=gw.api_base, api_key="sk-test", max_retries=0, timeout=30)
    stream = await client.chat.completions.create(model="command", messages=HELLO, tools=TOOLS, stream=True)
    calls: dict[int, dict[str, str]] = {}
    deltas, finish = 0, None
    async for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or []:
            deltas += 1
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            entry["name"] += call.function.name or ""
            entry["arguments"] += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    await client.close()
    assert calls == {0: {"id": "c1", "name": "weather", "arguments": '{"city":"Oslo"}'},
                     1: {"id": "c2", "name": "time", "arguments": '{"city":"Rome"}'}}
    assert deltas == 6 and finish == "tool_calls"  # a start and two argument pieces per call


def test_reasoning_response_format_and_finish_reasons(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    client = _client(gw)
    cohere_fake.queue(thinking="let me think", finish="MAX_TOKENS")
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    answer = client.chat.completions.create(model="command", messages=HELLO, reasoning_effort="high",
                                            response_format={"type": "json_schema",
                                                             "json_schema": {"name": "x", "schema": schema}})
    assert answer.choices[0].message.model_extra["reasoning_content"] == "let me think"
    assert answer.choices[0].finish_reason == "length"
    sent = _sent(cohere_fake)
    assert sent["response_format"] == {"type": "json_object", "json_schema": schema}
    assert sent["thinking"] == {"type": "enabled", "token_budget": 16384}
    cohere_fake.queue(thinking="hmm", chunks=["ok"])
    chunks = list(client.chat.completions.create(model="command", messages=HELLO, stream=True))
    assert [c.choices[0].delta.model_extra.get("reasoning_content") for c in chunks if c.choices
            and c.choices[0].delta.model_extra.get("reasoning_content")] == ["hmm"]


def test_unsupported_fields_are_refused_or_dropped(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    client = _client(gw)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="command", messages=HELLO, n=2)
    assert "cohere does not support parameters: ['n']" in caught.value.message
    with pytest.raises(openai.BadRequestError, match="logit_bias"):
        client.chat.completions.create(model="command", messages=HELLO, logit_bias={"1": 2})
    assert cohere_fake.requests == []
    client.chat.completions.create(model="command-drop", messages=HELLO, n=2, logit_bias={"1": 2})
    client.chat.completions.create(model="command", messages=HELLO, logit_bias={"1": 2},
                                   extra_body={"drop_params": True})
    assert all("n" not in r.json and "logit_bias" not in r.json and "drop_params" not in r.json
               for r in cohere_fake.requests)


def test_embeddings_float_and_base64(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    client = _client(gw)
    floats = client.embeddings.create(model="embed", input=["a b", "c"], encoding_format="float")
    assert len(floats.data) == 2 and len(floats.data[0].embedding) == 8
    assert floats.usage.prompt_tokens == 3
    default = client.embeddings.create(model="embed", input="a b")  # the SDK asks for base64 and decodes it
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert [r.json["embedding_types"] for r in cohere_fake.requests] == [["float"], ["base64"]]
    assert cohere_fake.requests[0].json["input_type"] == "search_document"


def test_errors_map_to_openai_statuses(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    client = _client(gw)
    for _ in range(3):
        cohere_fake.queue(status=429, error={"message": "too many requests"}, headers={"retry-after": "2"})
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="command", messages=HELLO)
    assert caught.value.response.headers["retry-after"] == "2" and len(cohere_fake.requests) == 3
    cohere_fake.queue(status=498, error={"message": "invalid api token"})
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="command", messages=HELLO)
    cohere_fake.queue(status=503, error={"message": "overloaded"})
    assert client.chat.completions.create(model="command", messages=HELLO).choices[0].message.content  # retried
    cohere_fake.queue(status=422, error={"message": "invalid request: messages is empty"})
    with pytest.raises(openai.BadRequestError, match="messages is empty"):
        client.chat.completions.create(model="command", messages=HELLO)


@pytest.mark.parametrize("raw", ["<html><body>502 Bad Gateway</body></html>", '{"id": "x", "message": {"rol'])
def test_a_body_that_is_not_cohere_json_is_a_clean_502(gw: GatewayProcess, cohere_fake: FakeCohere, raw: str) -> None:
    for _ in range(3):
        cohere_fake.queue(raw=raw)
    with pytest.raises(openai.InternalServerError) as caught:
        _client(gw).chat.completions.create(model="command", messages=HELLO)
    assert caught.value.status_code == 502 and "cohere deployment 'command'" in caught.value.message


def _raw_stream(gw: GatewayProcess) -> list[str]:
    with httpx.stream("POST", gw.api_base + "/chat/completions", timeout=30, headers={"Authorization": "Bearer x"},
                      json={"model": "command", "messages": HELLO, "stream": True}) as response:
        assert response.status_code == 200
        return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


@pytest.mark.parametrize("script", [
    {"events": [{"type": "message-start", "id": "a", "delta": {"message": {"role": "assistant"}}},
                {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "hi"}}}},
                {"type": "surprise-event"}]},
    {"chunks": ["a ", "b ", "c "], "die_after": 3},
    {"events": [{"type": "message-start", "id": "a", "delta": {"message": {"role": "assistant"}}}]},
    {"events": [{"type": "message-start", "id": "a", "delta": {"message": {"role": "assistant"}}},
                "data: {not json\n\n"]},
])
def test_a_bad_stream_ends_with_one_error_event(gw: GatewayProcess, cohere_fake: FakeCohere,
                                                script: dict[str, Any]) -> None:
    cohere_fake.queue(**script)
    payloads = _raw_stream(gw)
    assert payloads[-1] == "[DONE]"
    error = json.loads(payloads[-2])["error"]
    assert error["code"] == "502"
    assert "cohere deployment 'command'" in error["message"] or "broke in the middle" in error["message"]
    assert sum("error" in p for p in payloads) == 1


def test_a_stream_bad_from_its_first_event_is_a_json_502(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    for _ in range(3):
        cohere_fake.queue(events=["data: {not json\n\n"])
    with pytest.raises(openai.InternalServerError) as caught:
        list(_client(gw).chat.completions.create(model="command", messages=HELLO, stream=True))
    assert caught.value.status_code == 502 and "cohere deployment 'command'" in caught.value.message


def test_guardrails_see_and_rewrite_the_translated_text(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    client = _client(gw)
    client.chat.completions.create(model="command", messages=[{"role": "user", "content": "a secret"}],
                                   extra_body={"guardrails": ["mask-pre"]})
    assert _sent(cohere_fake)["messages"][0]["content"] == "a [MASKED]"
    cohere_fake.queue(chunks=["the ", "secret ", "is ", "out"])
    chunks = list(client.chat.completions.create(model="command", messages=HELLO, stream=True,
                                                 extra_body={"guardrails": ["mask-post"]}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "the [MASKED] is out"


def test_key_from_the_environment(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    _client(gw).chat.completions.create(model="command-env", messages=HELLO)
    assert cohere_fake.requests[-1].headers["Authorization"] == f"Bearer {KEY}"


def test_start_up_names_the_missing_key(tmp_path: Path) -> None:
    result = check_config({"model_list": [{"model_name": "c", "litellm_params": {"model": "cohere/command-r"}}]},
                          tmp_path)
    assert result.returncode == 2 and "deployment 'c'" in result.stderr and "COHERE_API_KEY" in result.stderr


LITELLM_DOCS_CONFIG = """
model_list:
  - model_name: command-a
    litellm_params:
      model: cohere/command-a-03-2025
      api_key: os.environ/COHERE_API_KEY
      api_base: {base}
  - model_name: cohere-embed
    litellm_params:
      model: cohere/embed-english-v3.0
      api_key: os.environ/COHERE_API_KEY
      api_base: {base}
"""


def test_a_config_from_litellm_docs_starts_and_answers(gateway: Callable[..., GatewayProcess],
                                                       cohere_fake: FakeCohere) -> None:
    gw = gateway(LITELLM_DOCS_CONFIG.format(base=cohere_fake.url), env={**ISOLATED, "COHERE_API_KEY": KEY})
    client = _client(gw)
    assert client.chat.completions.create(model="command-a", messages=HELLO).choices[0].message.content
    assert client.embeddings.create(model="cohere-embed", input="hello").data[0].embedding
    assert [r.path for r in cohere_fake.requests] == ["/v2/chat", "/v2/embed"]
    assert cohere_fake.requests[-1].json["model"] == "embed-english-v3.0"
