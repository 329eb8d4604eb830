"""gatehouse.formats.anthropic: the pure translation, both directions.

The Anthropic side of the reverse direction is checked by the official
``anthropic`` SDK, served verbatim by the fake Anthropic API.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import anthropic
import orjson
import pytest

from gatehouse.errors import BadRequestError, UpstreamError
from gatehouse.formats.anthropic import (ChunkTranslator, SSEDecoder, StreamTranslator, anthropic_error_body,
                                         error_from_anthropic, model_traits, openai_usage, sse_event,
                                         to_anthropic_request, to_anthropic_response, to_openai_request,
                                         to_openai_response)
from gatehouse.testing.fake_anthropic import FakeAnthropic
from gatehouse.testing.fake_anthropic_answers import Script, stream_events

EPHEMERAL = {"type": "ephemeral"}
MESSAGES_BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-5", "max_tokens": 512, "temperature": 0.5, "top_k": 4, "stop_sequences": ["END"],
    "system": [{"type": "text", "text": "rules", "cache_control": EPHEMERAL}],
    "metadata": {"user_id": "u-1"},
    "tools": [{"name": "lookup", "description": "Look up", "input_schema": {"type": "object", "properties": {}},
               "cache_control": EPHEMERAL}],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "look", "cache_control": EPHEMERAL},
                                     {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                  "data": "AAAA"}}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"},
                                     {"type": "text", "text": "thanks"}]},
    ],
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic()
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def sdk(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    fake.reset()
    with anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=0, timeout=10) as client:
        yield client


def test_a_messages_request_survives_the_round_trip() -> None:
    openai_body = to_openai_request(MESSAGES_BODY)
    assert [m["role"] for m in openai_body["messages"]] == ["system", "user", "assistant", "tool", "user"]
    assert openai_body["tool_choice"] == "required" and openai_body["parallel_tool_calls"] is False
    back = to_anthropic_request(openai_body).body
    assert back == MESSAGES_BODY


def test_a_chat_request_survives_the_round_trip() -> None:
    chat = {"model": "claude-sonnet-4-5", "max_tokens": 100, "stop": ["x"], "temperature": 0.1,
            "messages": [{"role": "system", "content": "be kind"}, {"role": "user", "content": "hi"},
                         {"role": "assistant", "content": None, "tool_calls": [
                             {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]},
                         {"role": "tool", "tool_call_id": "c1", "content": "1"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}
    back = to_openai_request(to_anthropic_request(chat).body)
    assert back["messages"][0] == {"role": "system", "content": "be kind"}
    assert back["messages"][2]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a":1}'}
    assert back["messages"][3] == {"role": "tool", "tool_call_id": "c1", "content": "1"}
    assert back["stop"] == ["x"] and back["tools"] == chat["tools"]


def test_usage_both_ways() -> None:
    usage = openai_usage({"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50,
                          "output_tokens": 5})
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (160, 5, 165)
    assert usage["prompt_tokens_details"]["cached_tokens"] == 100
    answer = to_anthropic_response({"id": "x", "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                                    "usage": usage})
    assert answer["usage"] == {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
                               "cache_creation_input_tokens": 50}


def test_translated_answer_parses_with_the_anthropic_sdk(sdk: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    completion = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-x", "choices": [{
        "index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Checking.", "reasoning_content": "think",
            "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "lookup", "arguments": '{"q": "x"}'}}]}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
    fake.queue(raw=orjson.dumps(to_anthropic_response(completion, model="my-model")).decode())
    message = sdk.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert message.id == "msg_chatcmpl-1" and message.model == "my-model" and message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    assert message.content[2].input == {"q": "x"}  # type: ignore[union-attr]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 3)


def openai_stream() -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return [chunk({"role": "assistant", "reasoning_content": "plan"}), chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                   "function": {"name": "lookup", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "y"}'}}]}),
            chunk({}, "tool_calls"),
            {**base, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}}]


def test_translated_chunks_stream_through_the_anthropic_sdk(sdk: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    translator = ChunkTranslator("my-model", message_id="msg_s")
    events = [e for c in openai_stream() for e in translator.chunk(c)] + translator.end()
    assert sse_event(events[0]).startswith(b"event: message_start\ndata: {")
    fake.queue(events=events)
    with sdk.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_message()
    assert final.id == "msg_s" and final.stop_reason == "tool_use"
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[1].text == "Hello"  # type: ignore[union-attr]
    assert final.content[2].input == {"q": "y"}  # type: ignore[union-attr]
    assert final.usage.output_tokens == 4


def test_anthropic_events_to_chunks_and_back(sdk: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    forward = StreamTranslator("m", include_usage=True)
    decoder = SSEDecoder()
    script = Script(thinking="a b", text="x y z", tool_uses=[{"name": "lookup", "input": {"k": [1, 2]}, "id": "toolu_9"}],
                    usage={"cache_read_input_tokens": 3})
    raw = b"".join(sse_event(e) for e in stream_events({"model": "m", "messages": []}, script, "r"))
    chunks = [orjson.loads(p) for i in range(0, len(raw), 7) for d in decoder.feed(raw[i:i + 7]) for p in forward.feed(d)]
    forward.end()
    back = ChunkTranslator("m")
    fake.queue(events=[e for c in chunks for e in back.chunk(c)] + back.end())
    with sdk.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[0].signature == "sig-fake"  # type: ignore[union-attr]
    assert final.content[1].text == "x y z" and final.content[2].input == {"k": [1, 2]}  # type: ignore[union-attr]
    assert final.usage.cache_read_input_tokens == 3


def test_sse_decoder_handles_any_split_and_crlf() -> None:
    raw = b'event: ping\r\ndata: {"type":"ping"}\r\n\r\n: comment\n\ndata: {"a":\ndata: 1}\n\ndata: {"tail":true}'
    for size in (1, 3, 1000):
        decoder = SSEDecoder()
        out = [d for i in range(0, len(raw), size) for d in decoder.feed(raw[i:i + size])] + decoder.close()
        assert out == [b'{"type":"ping"}', b'{"a":\n1}', b'{"tail":true}']


def test_stream_translator_refuses_what_is_not_a_stream() -> None:
    with pytest.raises(UpstreamError, match="not JSON") as caught:
        StreamTranslator("m").feed(b"<html>")
    assert caught.value.status == 502
    with pytest.raises(UpstreamError, match="before message_start"):
        StreamTranslator("m").event({"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "x"}})
    with pytest.raises(UpstreamError, match="no message_start"):
        StreamTranslator("m").end()
    with pytest.raises(UpstreamError, match="Overloaded") as caught:
        StreamTranslator("m").event({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert caught.value.status == 503


@pytest.mark.parametrize(("status", "body", "expected"), [
    (529, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', (503, "Overloaded")),
    (413, b'{"type":"error","error":{"type":"request_too_large","message":"too big"}}', (400, "too big")),
    (429, b'{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}', (429, "slow")),
    (502, b"<html>bad gateway</html>", (502, "Anthropic answered HTTP 502")),
    (200, {"type": "error", "error": {"type": "api_error", "message": "boom"}}, (500, "boom")),
])
def test_error_mapping(status: int, body: Any, expected: tuple[int, str]) -> None:
    mapped, _, message = error_from_anthropic(status, body)
    assert (mapped, message) == expected


def test_anthropic_error_bodies() -> None:
    assert anthropic_error_body(529, "busy") == {"type": "error", "error": {"type": "overloaded_error",
                                                                           "message": "busy"}}
    assert anthropic_error_body(418, "?")["error"]["type"] == "api_error"


def test_model_traits_read_every_spelling() -> None:
    for name in ("claude-sonnet-4-5-20250929", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                 "claude-sonnet-4-5@20250929"):
        assert model_traits(name).max_output_tokens == 64000 and model_traits(name).structured_outputs
    assert model_traits("claude-3-5-haiku-20241022").max_output_tokens == 8192
    assert model_traits("claude-opus-4-6").adaptive_thinking
    assert model_traits("mystery", default_max_tokens=1234).max_output_tokens == 1234


def test_reasoning_and_json_mode_answers() -> None:
    request = to_anthropic_request({"model": "claude-opus-4-6", "messages": [{"role": "user", "content": "x"}],
                                    "reasoning_effort": "high", "response_format": {"type": "json_object"}})
    assert request.body["thinking"] == {"type": "adaptive"} and request.body["output_config"] == {"effort": "high"}
    assert "tool_choice" not in request.body and request.json_tool  # no forced tool while thinking
    answer = to_openai_response({"id": "msg_1", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                                                           {"type": "tool_use", "id": "t", "name": "json_tool_call",
                                                            "input": {"a": 1}}],
                                 "stop_reason": "tool_use", "usage": {}}, json_tool=True, model="m")
    message = answer["choices"][0]["message"]
    assert json.loads(message["content"]) == {"a": 1} and "tool_calls" not in message
    assert message["reasoning_content"] == "t" and answer["choices"][0]["finish_reason"] == "stop"


def test_malformed_requests_name_the_field() -> None:
    with pytest.raises(BadRequestError, match=r"messages\[1\].role 'wizard'"):
        to_anthropic_request({"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "wizard"}]})
    with pytest.raises(BadRequestError, match=r"messages\[0\].tool_call_id is required"):
        to_anthropic_request({"model": "m", "messages": [{"role": "tool", "content": "x"}]})
    with pytest.raises(BadRequestError, match="audio"):
        to_anthropic_request({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]})


def test_request_options_of_litellm() -> None:
    base = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}]}
    body = to_anthropic_request({**base, "temperature": 0.3, "seed": 3, "additional_drop_params": ["temperature", "seed"]}).body
    assert "temperature" not in body and "seed" not in body
    assert to_anthropic_request({**base, "seed": 3, "allowed_openai_params": ["seed"]}).body["seed"] == 3
    assert "seed" not in to_anthropic_request({**base, "seed": 3, "drop_params": True}).body
    search = to_anthropic_request({**base, "web_search_options": {"search_context_size": "high"}}).body["tools"]
    assert search == [{"type": "web_search_20250305", "name": "web_search", "max_uses": 10}]


def test_file_parts_become_documents() -> None:
    request = to_anthropic_request({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
        {"type": "file", "file": {"file_id": "file_123"}}]}]})
    assert request.body["messages"][0]["content"] == [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
         "title": "a.pdf"},
        {"type": "document", "source": {"type": "file", "file_id": "file_123"}}]
    assert request.betas == ["files-api-2025-04-14"]
