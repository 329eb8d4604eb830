"""Chat through a bedrock/ deployment: the openai SDK at the gateway, the fake Bedrock behind it.

Each test checks what the fake received (the Converse body, the URL, a SigV4
signature the fake verified) and what the client got back (the translated answer).
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any, Callable

import openai
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bedrock_support import AWS_ENV, MODEL, REGION, bedrock_fake, deployment, fake  # noqa: E402,F401

from gatehouse.testing import GatewayProcess  # noqa: E402
from gatehouse.testing.aws_wire import event, exception  # noqa: E402
from gatehouse.testing.fake_bedrock import ACCESS_KEY, PNG, FakeBedrock, Reply  # noqa: E402

HELLO = [{"role": "user", "content": "Hello there"}]
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                                 "parameters": {"type": "object",
                                                                "properties": {"city": {"type": "string"}}}}}


def chat_config(url: str) -> dict[str, Any]:
    return {
        "model_list": [
            deployment("claude", url),
            deployment("claude-drop", url, drop_params=True),
            deployment("claude-us", url, "us.anthropic.claude-3-5-sonnet-20241022-v2:0"),
            {"model_name": "claude-converse", "litellm_params": {
                **deployment("x", url)["litellm_params"], "model": "bedrock/converse/anthropic.claude-3-haiku-20240307-v1:0"}},
            deployment("llama", url, "meta.llama3-1-70b-instruct-v1:0"),
            deployment("mistral", url, "mistral.mistral-large-2407-v1:0"),
            deployment("nova", url, "amazon.nova-pro-v1:0"),
            deployment("titan-v1", url, "amazon.titan-embed-text-v1"),
            deployment("titan-v2", url, "amazon.titan-embed-text-v2:0"),
            deployment("cohere-embed", url, "cohere.embed-english-v3"),
        ],
        "router_settings": {"num_retries": 0},
    }


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], fake: FakeBedrock) -> GatewayProcess:
    return gateway(chat_config(fake.url), env=AWS_ENV)


@pytest.fixture
def client(gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return openai_client(gw)


def test_system_multi_turn_and_sampling_reach_converse(client: openai.OpenAI, fake: FakeBedrock) -> None:
    answer = client.chat.completions.create(
        model="claude", temperature=0.3, top_p=0.9, max_tokens=100, stop="END", user="u-1",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "How are you?"},
                  {"role": "user", "content": [{"type": "text", "text": "Answer now."}]}])
    assert answer.choices[0].message.content == "Hello! You said: How are you? Answer now."
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "claude"
    assert answer.usage is not None and answer.usage.completion_tokens == 8
    seen = fake.requests[-1]
    assert seen.path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert seen.signer == ACCESS_KEY and seen.region == REGION
    assert seen.body == {
        "system": [{"text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"text": "Hi"}]},
                     {"role": "assistant", "content": [{"text": "Hello!"}]},
                     {"role": "user", "content": [{"text": "How are you?"}, {"text": "Answer now."}]}],
        "inferenceConfig": {"maxTokens": 100, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END"]},
    }


def test_no_max_tokens_sends_no_inference_config(client: openai.OpenAI, fake: FakeBedrock) -> None:
    client.chat.completions.create(model="claude", messages=HELLO)
    assert "inferenceConfig" not in fake.requests[-1].body


async def test_async_stream_with_usage(gw: GatewayProcess, async_openai_client: Any, fake: FakeBedrock) -> None:
    client = async_openai_client(gw)
    stream = await client.chat.completions.create(model="claude", messages=HELLO, stream=True,
                                                  stream_options={"include_usage": True})
    chunks = [c async for c in stream]
    assert fake.requests[-1].path.endswith("/converse-stream")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello! You said: Hello there"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 2 and chunks[-1].usage.completion_tokens == 5
    assert {c.model for c in chunks} == {"claude"} and len({c.id for c in chunks}) == 1


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI, fake: FakeBedrock) -> None:
    chunks = list(client.chat.completions.create(model="claude", messages=HELLO, stream=True))
    assert all(c.usage is None for c in chunks) and all(c.choices for c in chunks)


def test_images_from_data_uri_and_url(client: openai.OpenAI, fake: FakeBedrock) -> None:
    data_uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    client.chat.completions.create(model="claude", messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": data_uri}},
        {"type": "image_url", "image_url": {"url": fake.url + "/images/pixel.png"}}]}])
    blocks = fake.requests[-1].body["messages"][0]["content"]
    encoded = base64.b64encode(PNG).decode()
    assert blocks[1:] == [{"image": {"format": "png", "source": {"bytes": encoded}}}] * 2


def test_an_image_url_that_cannot_be_fetched_is_a_400(client: openai.OpenAI, fake: FakeBedrock) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": fake.url + "/images/missing.png"}}]}])
    assert "could not be fetched (HTTP 404)" in caught.value.message
    assert fake.requests == []


def test_tools_parallel_calls_and_tool_results(client: openai.OpenAI, fake: FakeBedrock) -> None:
    fake.queue(Reply(text="", tool_calls=[{"name": "get_weather", "input": {"city": "Paris"}, "id": "t1"},
                                          {"name": "get_weather", "input": {"city": "Rome"}, "id": "t2"}]))
    answer = client.chat.completions.create(model="claude", messages=HELLO, tools=[WEATHER_TOOL],
                                            tool_choice="required")
    assert fake.requests[-1].body["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "get_weather", "description": "Weather in a city",
                                "inputSchema": {"json": WEATHER_TOOL["function"]["parameters"]}}}],
        "toolChoice": {"any": {}}}
    message = answer.choices[0].message
    assert answer.choices[0].finish_reason == "tool_calls" and message.content is None
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []] == [
        ("t1", "get_weather", {"city": "Paris"}), ("t2", "get_weather", {"city": "Rome"})]
    client.chat.completions.create(
        model="claude", tools=[WEATHER_TOOL], tool_choice={"type": "function", "function": {"name": "get_weather"}},
        messages=[*HELLO, message.model_dump(exclude_none=True),
                  {"role": "tool", "tool_call_id": "t1", "content": "18C"},
                  {"role": "tool", "tool_call_id": "t2", "content": "25C"}])
    body = fake.requests[-1].body
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}
    assert body["messages"][1]["content"] == [
        {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}},
        {"toolUse": {"toolUseId": "t2", "name": "get_weather", "input": {"city": "Rome"}}}]
    assert body["messages"][2] == {"role": "user", "content": [
        {"toolResult": {"toolUseId": "t1", "content": [{"text": "18C"}]}},
        {"toolResult": {"toolUseId": "t2", "content": [{"text": "25C"}]}}]}


def test_streamed_tool_call_argument_deltas(client: openai.OpenAI, fake: FakeBedrock) -> None:
    fake.queue(Reply(text="Checking.", tool_calls=[{"name": "get_weather", "input": {"city": "Paris"}, "id": "t1"},
                                                   {"name": "get_weather", "input": {"city": "Oslo"}, "id": "t2"}]))
    chunks = list(client.chat.completions.create(model="claude", messages=HELLO, tools=[WEATHER_TOOL], stream=True))
    calls: dict[int, dict[str, str]] = {}
    pieces = 0
    for chunk in chunks:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            entry["name"] += (call.function.name or "") if call.function else ""
            entry["arguments"] += (call.function.arguments or "") if call.function else ""
            pieces += 1
    assert calls == {0: {"id": "t1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
                     1: {"id": "t2", "name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    assert pieces == 6  # one start and two argument halves per call
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_tool_history_without_tools_becomes_text(client: openai.OpenAI, fake: FakeBedrock) -> None:
    client.chat.completions.create(model="claude", messages=[
        *HELLO, {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "18C"}])
    body = fake.requests[-1].body
    assert "toolConfig" not in body
    assert body["messages"][1]["content"] == [{"text": '[tool call t1: get_weather({"city":"Paris"})]'}]
    assert body["messages"][2]["content"] == [{"text": "[tool result for t1: 18C]"}]


def test_response_format_json_schema_answers_the_json(client: openai.OpenAI, fake: FakeBedrock) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    fake.queue(Reply(text="", tool_calls=[{"name": "json_tool_call", "input": {"answer": "yes"}}]))
    answer = client.chat.completions.create(model="claude", messages=HELLO, response_format={
        "type": "json_schema", "json_schema": {"name": "reply", "schema": schema}})
    config = fake.requests[-1].body["toolConfig"]
    assert config["tools"][0]["toolSpec"]["inputSchema"] == {"json": schema}
    assert config["toolChoice"] == {"tool": {"name": "json_tool_call"}}
    assert json.loads(answer.choices[0].message.content or "") == {"answer": "yes"}
    assert answer.choices[0].finish_reason == "stop" and not answer.choices[0].message.tool_calls


def test_reasoning_becomes_reasoning_content(client: openai.OpenAI, fake: FakeBedrock) -> None:
    fake.queue(Reply(text="42", reasoning="Let me think."), Reply(text="42", reasoning="Let me think."))
    answer = client.chat.completions.create(model="claude", messages=HELLO, reasoning_effort="low")
    assert fake.requests[-1].body["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 1024}}
    message = answer.choices[0].message
    assert message.content == "42" and getattr(message, "reasoning_content") == "Let me think."
    assert getattr(message, "thinking_blocks")[0]["signature"] == "sig-fake"
    chunks = list(client.chat.completions.create(model="claude", messages=HELLO, stream=True,
                                                 extra_body={"thinking": {"type": "enabled", "budget_tokens": 2000}}))
    assert fake.requests[-1].body["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 2000
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    assert reasoning == "Let me think."


def test_usage_with_cache_read_and_finish_reasons(client: openai.OpenAI, fake: FakeBedrock) -> None:
    usage = {"inputTokens": 10, "outputTokens": 5, "totalTokens": 165, "cacheReadInputTokens": 100,
             "cacheWriteInputTokens": 50}
    fake.queue(Reply(usage=usage, stop_reason="max_tokens"), Reply(stop_reason="guardrail_intervened"))
    answer = client.chat.completions.create(model="claude", messages=HELLO)
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (160, 5, 165)
    assert answer.usage.prompt_tokens_details is not None and answer.usage.prompt_tokens_details.cached_tokens == 100
    assert answer.choices[0].finish_reason == "length"
    assert client.chat.completions.create(model="claude", messages=HELLO).choices[0].finish_reason == "content_filter"


def test_prompt_caching_marks_become_cache_points(client: openai.OpenAI, fake: FakeBedrock) -> None:
    client.chat.completions.create(model="claude", messages=[
        {"role": "system", "content": [{"type": "text", "text": "Long rules.", "cache_control": {"type": "ephemeral"}}]},
        *HELLO])
    assert fake.requests[-1].body["system"] == [{"text": "Long rules."}, {"cachePoint": {"type": "default"}}]


@pytest.mark.parametrize("group, model_id, extra", [
    ("claude-us", "us.anthropic.claude-3-5-sonnet-20241022-v2:0", {}),
    ("claude-converse", "anthropic.claude-3-haiku-20240307-v1:0", {}),
    ("llama", "meta.llama3-1-70b-instruct-v1:0", {}),
    ("mistral", "mistral.mistral-large-2407-v1:0", {"top_k": 5}),
    ("nova", "amazon.nova-pro-v1:0", {"top_k": 7}),
])
def test_model_families_and_id_forms(client: openai.OpenAI, fake: FakeBedrock, group: str, model_id: str,
                                     extra: dict[str, Any]) -> None:
    answer = client.chat.completions.create(model=group, messages=HELLO, extra_body=extra)
    assert answer.choices[0].message.content == "Hello! You said: Hello there"
    assert fake.requests[-1].model_id == model_id
    assert fake.requests[-1].path == f"/model/{model_id.replace(':', '%3A')}/converse"
    chunks = list(client.chat.completions.create(model=group, messages=HELLO, stream=True, extra_body=extra))
    assert fake.requests[-1].path == f"/model/{model_id.replace(':', '%3A')}/converse-stream"
    assert {c.model for c in chunks} == {group}
    if group == "mistral":
        assert fake.requests[-1].body["additionalModelRequestFields"] == {"top_k": 5}
    if group == "nova":
        assert fake.requests[-1].body["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 7}}


def test_a_field_bedrock_cannot_take_is_a_400_unless_dropped(client: openai.OpenAI, fake: FakeBedrock) -> None:
    for model, extra in (("claude", {"seed": 7}), ("claude", {"tool_choice": "none"}), ("llama", {"top_k": 3})):
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=model, messages=HELLO, extra_body=extra)
        assert "bedrock does not support parameters" in caught.value.message
        assert repr(next(iter(extra))) in caught.value.message
    assert fake.requests == []
    client.chat.completions.create(model="claude-drop", messages=HELLO, seed=7, logit_bias={"1": 1})
    assert set(fake.requests[-1].body) == {"messages"}
    client.chat.completions.create(model="claude", messages=HELLO, seed=7, extra_body={"drop_params": True})
    assert len(fake.requests) == 2


@pytest.mark.parametrize("reply, status, error_class, text", [
    (Reply(status=429, error_type="ThrottlingException", message="Too many requests", headers={"retry-after": "7"}),
     429, openai.RateLimitError, "ThrottlingException: Too many requests"),
    (Reply(status=400, error_type="ValidationException", message="A conversation must start with a user message."),
     400, openai.BadRequestError, "modify_params"),
    (Reply(status=403, error_type="AccessDeniedException", message="no access"), 403, openai.PermissionDeniedError,
     "AccessDeniedException: no access"),
    (Reply(status=503, error_type="ServiceUnavailableException", message="busy"), 503, openai.InternalServerError,
     "ServiceUnavailableException: busy"),
])
def test_bedrock_errors_map_to_openai_errors(client: openai.OpenAI, fake: FakeBedrock, reply: Reply, status: int,
                                             error_class: type[Exception], text: str) -> None:
    fake.queue(reply)
    with pytest.raises(error_class) as caught:
        client.chat.completions.create(model="claude", messages=HELLO)
    error: Any = caught.value
    assert error.status_code == status and text in error.message and "'claude'" in error.message
    if status == 429:
        assert error.response.headers["retry-after"] == "7"


@pytest.mark.parametrize("reply, what", [
    (Reply(raw=b"<html><body>Bad gateway</body></html>", content_type="text/html"), "not JSON"),
    (Reply(raw=b'{"output": {"message": {"content": [{"text": "trunc'), "not JSON"),
    (Reply(raw=b'{"unexpected": true}'), "not a Converse answer"),
])
def test_bad_answers_are_a_clean_502(client: openai.OpenAI, fake: FakeBedrock, reply: Reply, what: str) -> None:
    fake.queue(reply)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="claude", messages=HELLO)
    assert caught.value.status_code == 502
    assert "Bedrock deployment 'claude'" in caught.value.message and what in caught.value.message


@pytest.mark.parametrize("reply, what", [
    (Reply(corrupt_at=0), "event-stream frame is corrupt"),
    (Reply(raw=b"<html>oops</html>", content_type="text/html"), "not an AWS event stream"),
])
def test_a_stream_that_is_bad_from_the_start_is_a_502(client: openai.OpenAI, fake: FakeBedrock, reply: Reply,
                                                     what: str) -> None:
    fake.queue(reply)
    with pytest.raises(openai.InternalServerError) as caught:
        list(client.chat.completions.create(model="claude", messages=HELLO, stream=True))
    assert caught.value.status_code == 502 and what in caught.value.message and "'claude'" in caught.value.message


@pytest.mark.parametrize("reply, status, what", [
    (Reply(die_after=3), 502, "broke in the middle of the stream"),
    (Reply(corrupt_at=3), 502, "event-stream frame is corrupt"),
    (Reply(frames=[event("messageStart", {"role": "assistant"}), event("surpriseEvent", {})]), 502,
     "unknown stream event 'surpriseEvent'"),
    (Reply(frames=[event("messageStart", {"role": "assistant"}), exception("throttlingException", "slow down")]),
     429, "slow down"),
    (Reply(frames=[event("messageStart", {"role": "assistant"}),
                   event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "partial"}})]), 502,
     "ended before messageStop"),
])
def test_a_stream_that_fails_midway_ends_with_one_error_event(gw: GatewayProcess, fake: FakeBedrock, reply: Reply,
                                                             status: int, what: str) -> None:
    import httpx

    fake.queue(reply)
    with httpx.stream("POST", gw.api_base + "/chat/completions", timeout=30,
                      json={"model": "claude", "messages": HELLO, "stream": True}) as resp:
        assert resp.status_code == 200
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert error["code"] == str(status) and what in error["message"] and "'claude'" in error["message"]
    assert all("error" not in json.loads(e) for e in events[:-2])


def test_chat_on_an_embedding_deployment_is_a_400(client: openai.OpenAI, fake: FakeBedrock) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="titan-v2", messages=HELLO)
    assert "serves embedding, not chat" in caught.value.message
