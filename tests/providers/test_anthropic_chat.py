"""``anthropic/`` deployments, non-streaming: the openai SDK against the gateway against the fake Anthropic API.

Each test checks both ends: the Messages request the fake received (fields,
headers) and the chat.completion the client got back.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import openai
import pytest

from gatehouse.testing import GatewayProcess
from gatehouse.testing.fake_anthropic import FAKE_ANTHROPIC_KEY, FakeAnthropic, anthropic_model_config

USER = [{"role": "user", "content": "what is up"}]
PNG = "data:image/png;base64,iVBORw0KGgo="
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


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
        "model_list": [
            anthropic_model_config(fake.url),
            anthropic_model_config(fake.url, model_name="claude-next", model="claude-future-9"),
            anthropic_model_config(fake.url, model_name="claude-capped", model="claude-future-9",
                                   max_tokens=300, temperature=0.2),
        ],
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
    })


@pytest.fixture
def client(gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return openai_client(gw)


def sent(fake: FakeAnthropic) -> dict[str, Any]:
    """The last Messages body the fake received."""
    body = fake.requests[-1].json
    assert isinstance(body, dict)
    return body


def test_text_answer_with_system_prompt(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    answer = client.chat.completions.create(
        model="claude", messages=[{"role": "system", "content": "Be brief."}, *USER])
    assert answer.choices[0].message.content == "Hello! You said: what is up"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "claude"
    assert answer.usage is not None and answer.usage.completion_tokens == 6
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + 6
    seen = fake.requests[-1]
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == FAKE_ANTHROPIC_KEY
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in seen.headers and "anthropic-beta" not in seen.headers
    assert seen.json == {"model": "claude-sonnet-4-5", "system": [{"type": "text", "text": "Be brief."}],
                         "messages": USER, "max_tokens": 64000}


async def test_multi_turn_history_async(gw: GatewayProcess, async_openai_client: Callable[..., openai.AsyncOpenAI],
                                        fake: FakeAnthropic) -> None:
    client = async_openai_client(gw)
    history = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"},
               {"role": "developer", "content": "Answer in English."}, {"role": "user", "content": "three"}]
    answer = await client.chat.completions.create(model="claude", messages=history)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello! You said: three"
    body = sent(fake)
    assert body["system"] == [{"type": "text", "text": "Answer in English."}]
    assert body["messages"] == [{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"},
                                {"role": "user", "content": "three"}]


def test_images_as_data_uri_and_url(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    client.chat.completions.create(model="claude", messages=[{"role": "user", "content": [
        {"type": "text", "text": "compare"},
        {"type": "image_url", "image_url": {"url": PNG}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
    ]}])
    assert sent(fake)["messages"][0]["content"] == [
        {"type": "text", "text": "compare"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_parallel_tool_calls_and_tool_results(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(tool_uses=[{"name": "get_weather", "input": {"city": "Paris"}, "id": "toolu_a"},
                          {"name": "get_weather", "input": {"city": "Oslo"}, "id": "toolu_b"}])
    answer = client.chat.completions.create(model="claude", messages=USER, tools=[WEATHER],  # type: ignore[list-item]
                                            tool_choice="required", parallel_tool_calls=True)
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [  # type: ignore[union-attr]
        ("toolu_a", "get_weather", {"city": "Paris"}), ("toolu_b", "get_weather", {"city": "Oslo"})]
    body = sent(fake)
    assert body["tools"] == [{"name": "get_weather", "description": "Weather in a city",
                              "input_schema": WEATHER["function"]["parameters"]}]  # type: ignore[index]
    assert body["tool_choice"] == {"type": "any"}

    history = [*USER, choice.message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": "toolu_a", "content": "sunny"},
               {"role": "tool", "tool_call_id": "toolu_b", "content": "snow"}]
    answer = client.chat.completions.create(model="claude", messages=history, tools=[WEATHER],  # type: ignore[arg-type,list-item]
                                            tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                            parallel_tool_calls=False)
    assert answer.choices[0].message.content == "Hello! You said: what is up"
    body = sent(fake)
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    assert body["messages"][1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {"city": "Oslo"}}]}
    assert body["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_a", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_b", "content": "snow"}]}


def test_tool_history_without_tools_still_accepted(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    history = [*USER, {"role": "assistant", "tool_calls": [
        {"id": "toolu_x", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_x", "content": "42"}]
    answer = client.chat.completions.create(model="claude", messages=history)  # type: ignore[arg-type]
    assert answer.choices[0].message.content
    assert [t["name"] for t in sent(fake)["tools"]] == ["dummy_tool"]


def test_sampling_stop_and_max_tokens(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    client.chat.completions.create(model="claude", messages=USER, temperature=0.3, top_p=0.9, stop="END",
                                   max_tokens=100, user="team-7", extra_body={"top_k": 5})
    body = sent(fake)
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.3, 0.9, 5)
    assert body["stop_sequences"] == ["END"] and body["max_tokens"] == 100
    assert body["metadata"] == {"user_id": "team-7"}
    client.chat.completions.create(model="claude", messages=USER, stop=["a", "b"], max_completion_tokens=77,
                                   user="someone@example.com")
    body = sent(fake)
    assert body["stop_sequences"] == ["a", "b"] and body["max_tokens"] == 77 and "metadata" not in body
    client.chat.completions.create(model="claude-next", messages=USER)
    assert sent(fake)["max_tokens"] == 4096  # a model Gatehouse does not know: LiteLLM's default
    client.chat.completions.create(model="claude-capped", messages=USER)
    assert (sent(fake)["max_tokens"], sent(fake)["temperature"]) == (300, 0.2)  # the deployment's litellm_params


def test_response_format_json_schema_through_a_tool(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    fake.queue(tool_uses=[{"name": "json_tool_call", "input": {"name": "Ada"}}])
    answer = client.chat.completions.create(model="claude", messages=USER, response_format={
        "type": "json_schema", "json_schema": {"name": "person", "schema": schema}})
    assert json.loads(answer.choices[0].message.content or "") == {"name": "Ada"}
    assert answer.choices[0].finish_reason == "stop" and not answer.choices[0].message.tool_calls
    body = sent(fake)
    assert body["tools"][-1]["name"] == "json_tool_call" and body["tools"][-1]["input_schema"] == schema
    assert body["tool_choice"] == {"type": "tool", "name": "json_tool_call"}

    fake.queue(text='{"name": "Bo"}')
    client.chat.completions.create(model="claude", messages=USER, response_format={
        "type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": True}})
    body = sent(fake)  # a strict schema on a model with structured outputs: Anthropic's own
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}} and "tools" not in body


def test_reasoning_effort_and_thinking_blocks(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(thinking="Let me think.", text="Paris.")
    answer = client.chat.completions.create(model="claude", messages=USER, reasoning_effort="medium")
    message = answer.choices[0].message
    assert message.content == "Paris."
    assert message.reasoning_content == "Let me think."  # type: ignore[attr-defined]
    assert message.thinking_blocks == [  # type: ignore[attr-defined]
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig-fake"}]
    assert sent(fake)["thinking"] == {"type": "enabled", "budget_tokens": 2048}

    history = [*USER, message.model_dump(exclude_none=True), {"role": "user", "content": "and?"}]
    client.chat.completions.create(model="claude", messages=history,  # type: ignore[arg-type]
                                   extra_body={"thinking": {"type": "enabled", "budget_tokens": 1500}})
    body = sent(fake)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1500}
    assert body["messages"][1]["content"][0] == {"type": "thinking", "thinking": "Let me think.",
                                                 "signature": "sig-fake"}


def test_usage_with_cached_tokens(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.queue(text="ok", usage={"input_tokens": 10, "cache_read_input_tokens": 100,
                                 "cache_creation_input_tokens": 50, "output_tokens": 5})
    usage = client.chat.completions.create(model="claude", messages=USER).usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (160, 5, 165)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 100


@pytest.mark.parametrize(("stop_reason", "finish"), [
    ("max_tokens", "length"), ("stop_sequence", "stop"), ("refusal", "content_filter"), ("pause_turn", "stop")])
def test_finish_reasons(client: openai.OpenAI, fake: FakeAnthropic, stop_reason: str, finish: str) -> None:
    fake.queue(text="partial", stop_reason=stop_reason)
    answer = client.chat.completions.create(model="claude", messages=USER)
    assert answer.choices[0].finish_reason == finish and answer.choices[0].message.content == "partial"


def test_prompt_caching_cache_control_passes_through(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    ephemeral = {"type": "ephemeral"}
    tool = {**WEATHER, "cache_control": ephemeral}
    client.chat.completions.create(model="claude", tools=[tool], messages=[  # type: ignore[list-item]
        {"role": "system", "content": [{"type": "text", "text": "long rules", "cache_control": ephemeral}]},
        {"role": "user", "content": "long document", "cache_control": ephemeral},
        {"role": "assistant", "content": "noted"},
        {"role": "user", "content": [{"type": "text", "text": "question", "cache_control": ephemeral}]},
    ])
    body = sent(fake)
    assert body["system"] == [{"type": "text", "text": "long rules", "cache_control": ephemeral}]
    assert body["messages"][0]["content"] == [{"type": "text", "text": "long document", "cache_control": ephemeral}]
    assert body["messages"][2]["content"] == [{"type": "text", "text": "question", "cache_control": ephemeral}]
    assert body["tools"][0]["cache_control"] == ephemeral
