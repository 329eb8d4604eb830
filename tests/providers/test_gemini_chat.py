"""``gemini/`` deployments end to end: the gateway process, the ``openai`` SDK, the fake Gemini server.

Each test checks both sides: the native request the fake received (fields,
headers) and the OpenAI answer the client got.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable, Iterator

import openai
import pytest

from gatehouse.testing import GatewayProcess
from gatehouse.testing.fake_gemini import FakeGemini, studio_model

KEY = "AIza-gateway-test-key"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake image bytes").decode()
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": ["string", "null"]}},
        "required": ["city"], "additionalProperties": False, "$schema": "http://json-schema.org/draft-07/schema#"}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    server = FakeGemini(api_key=KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(autouse=True)
def _clean(fake: FakeGemini) -> None:
    fake.reset()


@pytest.fixture(scope="module")
def gw(gateway: Callable[..., GatewayProcess], fake: FakeGemini) -> GatewayProcess:
    return gateway({"model_list": [
        studio_model(fake.url, name="gem", api_key=KEY),
        studio_model(fake.url, name="gem3", model="gemini-3-pro-preview", api_key=KEY),
        studio_model(fake.url + "/v1beta", name="gem-tuned", api_key=KEY, temperature=0.2, max_tokens=64),
    ]})


@pytest.fixture
def client(gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return openai_client(gw)


def sent(fake: FakeGemini, method: str = "generateContent") -> dict[str, Any]:
    calls = fake.calls(method)
    assert calls, f"the fake received no {method} call"
    return calls[-1].json


def test_text_answer_and_request(client: openai.OpenAI, fake: FakeGemini) -> None:
    answer = client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "Hi there"}])
    assert answer.choices[0].message.content == "Hello! You said: Hi there"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "gem" and answer.object == "chat.completion"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (2, 5, 7)
    call = fake.calls("generateContent")[-1]
    assert call.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert call.headers["x-goog-api-key"] == KEY and "key" not in call.query
    assert call.json == {"contents": [{"role": "user", "parts": [{"text": "Hi there"}]}]}  # no max tokens default


def test_system_prompt_and_multi_turn(client: openai.OpenAI, fake: FakeGemini) -> None:
    client.chat.completions.create(model="gem", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Bonjour"},
        {"role": "user", "content": "How are you?"},
        {"role": "user", "content": [{"type": "text", "text": "And the weather?"}]},
    ])
    body = sent(fake)
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hello"}]},
        {"role": "model", "parts": [{"text": "Bonjour"}]},
        {"role": "user", "parts": [{"text": "How are you?"}, {"text": "And the weather?"}]},
    ]


def test_generation_config(client: openai.OpenAI, fake: FakeGemini) -> None:
    client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "x"}], temperature=0.3,
                                   top_p=0.9, max_tokens=100, stop="END", seed=7, n=2, presence_penalty=0.5,
                                   frequency_penalty=0.25)
    assert sent(fake)["generationConfig"] == {
        "temperature": 0.3, "topP": 0.9, "maxOutputTokens": 100, "stopSequences": ["END"], "seed": 7,
        "candidateCount": 2, "presencePenalty": 0.5, "frequencyPenalty": 0.25}
    client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "x"}],
                                   max_completion_tokens=50, stop=["a", "b"])
    assert sent(fake)["generationConfig"] == {"maxOutputTokens": 50, "stopSequences": ["a", "b"]}


def test_deployment_defaults_and_versioned_base(client: openai.OpenAI, fake: FakeGemini) -> None:
    client.chat.completions.create(model="gem-tuned", messages=[{"role": "user", "content": "x"}], temperature=0.9)
    call = fake.calls("generateContent")[-1]
    assert call.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert call.json["generationConfig"] == {"temperature": 0.9, "maxOutputTokens": 64}  # the client's wins


def test_two_candidates(client: openai.OpenAI, fake: FakeGemini) -> None:
    answer = client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "x"}], n=2)
    assert [c.index for c in answer.choices] == [0, 1]


def test_images_data_uri_and_url(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.media["cat"] = (b"GIF89a fake gif", "image/gif")
    client.chat.completions.create(model="gem", messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": f"{fake.url}/media/cat", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "gs://bucket/photo.jpg"}},
    ]}])
    parts = sent(fake)["contents"][0]["parts"]
    assert parts == [
        {"text": "What is in these?"},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"inlineData": {"mimeType": "image/gif", "data": base64.b64encode(b"GIF89a fake gif").decode()}},
        {"fileData": {"fileUri": "gs://bucket/photo.jpg", "mimeType": "image/jpeg"}},
    ]


def test_image_url_that_cannot_be_fetched(client: openai.OpenAI, fake: FakeGemini) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gem", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": f"{fake.url}/media/missing.png"}}]}])
    assert "could not download" in caught.value.message and "HTTP 404" in caught.value.message
    assert fake.calls() == []


def test_tools_and_tool_choice(client: openai.OpenAI, fake: FakeGemini) -> None:
    client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "Weather?"}], tools=TOOLS,
                                   tool_choice={"type": "function", "function": {"name": "get_weather"}})
    body = sent(fake)
    assert body["tools"] == [{"functionDeclarations": [
        {"name": "get_weather", "description": "Weather in a city", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "nullable": True}},
            "required": ["city"]}},
        {"name": "get_time"},
    ]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    for choice, mode in (("auto", "AUTO"), ("required", "ANY"), ("none", "NONE")):
        client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "x"}], tools=TOOLS,
                                       tool_choice=choice)
        assert sent(fake)["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_parallel_tool_calls_answer(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.queue(function_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "thoughtSignature": "c2ln"},
                               {"name": "get_time", "args": {}}])
    answer = client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "Paris?"}], tools=TOOLS)
    message = answer.choices[0].message
    assert answer.choices[0].finish_reason == "tool_calls" and message.content is None
    calls = message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}), ("get_time", {})]
    assert calls[0].id.startswith("call_") and calls[0].id.endswith("__thought__c2ln") and calls[0].type == "function"
    assert calls[0].id != calls[1].id and "__thought__" not in calls[1].id


def test_tool_results_round_trip(client: openai.OpenAI, fake: FakeGemini) -> None:
    client.chat.completions.create(model="gem", tools=TOOLS, messages=[
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1__thought__c2ln", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "call_1__thought__c2ln", "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "12:00"},
        {"role": "user", "content": "Thanks"},
    ])
    assert sent(fake)["contents"] == [
        {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
            {"functionCall": {"name": "get_time", "args": {}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
            {"functionResponse": {"name": "get_time", "response": {"content": "12:00"}}}]},
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ]


def test_gemini_3_history_gets_a_signature(client: openai.OpenAI, fake: FakeGemini) -> None:
    client.chat.completions.create(model="gem3", messages=[
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "call_9", "type": "function",
                                              "function": {"name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "noon"}], reasoning_effort="low")
    body = sent(fake)
    assert body["contents"][1]["parts"][0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "low", "includeThoughts": True}


def test_response_format(client: openai.OpenAI, fake: FakeGemini) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
              "additionalProperties": False}
    client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "x"}], response_format={
        "type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": True}})
    assert sent(fake)["generationConfig"] == {"responseMimeType": "application/json", "responseJsonSchema": schema}
    client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "x"}],
                                   response_format={"type": "json_object"})
    assert sent(fake)["generationConfig"] == {"responseMimeType": "application/json"}


def test_reasoning_content_and_usage(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.queue(reply="Forty-two.", thoughts="Deep thought", usage={
        "promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 20, "cachedContentTokenCount": 4,
        "totalTokenCount": 35})
    answer = client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "Meaning?"}],
                                            reasoning_effort="high")
    message = answer.choices[0].message
    assert message.content == "Forty-two." and message.model_extra["reasoning_content"] == "Deep thought"
    usage = answer.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (10, 25, 35)
    assert usage.completion_tokens_details.reasoning_tokens == 20
    assert usage.prompt_tokens_details.cached_tokens == 4
    assert sent(fake)["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 4096, "includeThoughts": True}


@pytest.mark.parametrize(("native", "expected"), [
    ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
    ("PROHIBITED_CONTENT", "content_filter"), ("MALFORMED_FUNCTION_CALL", "stop"), ("OTHER", "content_filter"),
])
def test_finish_reasons(client: openai.OpenAI, fake: FakeGemini, native: str, expected: str) -> None:
    fake.queue(reply="partial", finish_reason=native)
    answer = client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "x"}])
    assert answer.choices[0].finish_reason == expected


def test_blocked_prompt(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.queue(block_reason="SAFETY")
    answer = client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "bad"}])
    assert answer.choices[0].finish_reason == "content_filter" and answer.choices[0].message.content is None
    fake.queue(block_reason="PROHIBITED_CONTENT")
    chunks = list(client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "bad"}],
                                                 stream=True))
    assert [c.choices[0].finish_reason for c in chunks] == ["content_filter"]


def test_stream_text_and_usage(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.queue(chunks=["Hel", "lo ", "world"], thoughts="hmm")
    chunks = list(client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "hi"}],
                                                 stream=True, stream_options={"include_usage": True}))
    assert fake.calls("streamGenerateContent")[-1].query == {"alt": "sse"}
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.model_extra.get("reasoning_content") for c in chunks[:1]] == ["hmm"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello world"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 1 + 2 + 1
    assert {c.model for c in chunks} == {"gem"} and len({c.id for c in chunks}) == 1


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI, fake: FakeGemini) -> None:
    chunks = list(client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "a b"}],
                                                 stream=True))
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)


def test_stream_tool_calls(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.queue(reply="Checking.", function_calls=[{"name": "get_weather", "args": {"city": "Oslo"}},
                                                  {"name": "get_time", "args": {"zone": "CET"}}])
    chunks = list(client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "x"}],
                                                 tools=TOOLS, stream=True))
    deltas = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert [(d.index, d.function.name, json.loads(d.function.arguments)) for d in deltas] == [
        (0, "get_weather", {"city": "Oslo"}), (1, "get_time", {"zone": "CET"})]
    assert all(d.id and d.type == "function" for d in deltas)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_async_client_and_stream(gw: GatewayProcess, fake: FakeGemini,
                                       async_openai_client: Callable[..., openai.AsyncOpenAI]) -> None:
    client = async_openai_client(gw)
    answer = await client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "async"}])
    assert answer.choices[0].message.content == "Hello! You said: async"
    stream = await client.chat.completions.create(model="gem", messages=[{"role": "user", "content": "a b"}],
                                                  stream=True)
    pieces = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == "Hello! You said: a b"
