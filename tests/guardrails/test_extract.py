"""Extraction and write-back by position, for every endpoint, both directions; the outbound body."""

from __future__ import annotations

import copy

import orjson
import pytest

from gatehouse.guardrails.extract import (
    FORWARDED_HEADERS,
    apply_rewrite,
    build_body,
    extract_request,
    extract_response,
    rewrite_problem,
    sanitise_headers,
)


def upper_all(ex):
    """Rewrite every text to upper case by position; return the count changed."""
    texts = [t.upper() for t in ex.texts]
    assert rewrite_problem(ex, texts=texts, images=None, guardrail_name="g") is None
    return apply_rewrite(ex, texts=texts, images=None)


CHAT = {
    "model": "gpt-x",
    "messages": [
        {"role": "system", "content": "sys prompt"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look at"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
                {"type": "text", "text": "this"},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "tool says hi"},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "temperature": 0.2,
}


def test_chat_request_extraction():
    data = copy.deepcopy(CHAT)
    ex = extract_request("completion", data)
    assert ex.texts == ["sys prompt", "look at", "this", "tool says hi"]
    assert ex.images == ["https://x/y.png", "data:image/png;base64,AAAA"]
    assert ex.tool_calls == [CHAT["messages"][2]["tool_calls"][0]]
    assert ex.tools == CHAT["tools"]
    assert ex.structured_messages is data["messages"]
    assert ex.model == "gpt-x"
    assert not ex.empty


def test_chat_request_write_back_by_position():
    data = copy.deepcopy(CHAT)
    ex = extract_request("acompletion", data)  # LiteLLM alias
    assert upper_all(ex) == 4
    new_images = ["https://x/masked.png", "data:image/png;base64,BBBB"]
    new_calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    assert rewrite_problem(ex, texts=None, images=new_images, tool_calls=new_calls, guardrail_name="g") is None
    assert apply_rewrite(ex, texts=None, images=new_images, tool_calls=new_calls) == 3
    msgs = data["messages"]
    assert msgs[0]["content"] == "SYS PROMPT"
    assert msgs[1]["content"][0] == {"type": "text", "text": "LOOK AT"}
    assert msgs[1]["content"][1]["image_url"] == {"url": "https://x/masked.png"}
    assert msgs[1]["content"][2]["image_url"] == "data:image/png;base64,BBBB"
    assert msgs[1]["content"][3]["text"] == "THIS"
    assert msgs[2]["tool_calls"] == new_calls
    assert msgs[3]["content"] == "TOOL SAYS HI"
    # nothing else changed
    assert data["tools"] == CHAT["tools"] and data["temperature"] == 0.2 and msgs[3]["tool_call_id"] == "c1"


@pytest.mark.parametrize(
    ("call_type", "body", "texts", "after"),
    [
        ("text_completion", {"prompt": "hello"}, ["hello"], {"prompt": "HELLO"}),
        (
            "text_completion",
            {"prompt": ["a", [1, 2, 3], "b"]},
            ["a", "b"],
            {"prompt": ["A", [1, 2, 3], "B"]},
        ),
        ("text_completion", {"prompt": [1, 2, 3]}, [], {"prompt": [1, 2, 3]}),
        ("embeddings", {"input": "vec me"}, ["vec me"], {"input": "VEC ME"}),
        ("embeddings", {"input": ["x", "y", [5, 6]]}, ["x", "y"], {"input": ["X", "Y", [5, 6]]}),
        ("image_generation", {"prompt": "a cat"}, ["a cat"], {"prompt": "A CAT"}),
        ("moderation", {"input": "is this ok"}, ["is this ok"], {"input": "IS THIS OK"}),
        ("moderation", {"input": ["one", "two"]}, ["one", "two"], {"input": ["ONE", "TWO"]}),
        (
            "moderation",
            {"input": [{"type": "text", "text": "hm"}, {"type": "image_url", "image_url": {"url": "u"}}]},
            ["hm"],
            {"input": [{"type": "text", "text": "HM"}, {"type": "image_url", "image_url": {"url": "u"}}]},
        ),
        ("audio_transcription", {"model": "whisper", "file": b"..."}, [], None),
    ],
)
def test_request_side_other_endpoints(call_type, body, texts, after):
    data = {"model": "m", **body}
    ex = extract_request(call_type, data)
    assert ex.texts == texts
    assert ex.structured_messages is None and ex.tools is None
    if not texts:
        assert ex.empty
        return
    upper_all(ex)
    for key, value in after.items():
        assert data[key] == value


def test_moderation_images_are_extracted():
    ex = extract_request("moderation", {"input": [{"type": "image_url", "image_url": {"url": "u"}}]})
    assert ex.images == ["u"] and not ex.empty


def test_unknown_call_type_extracts_nothing():
    ex = extract_request("vector_store_search", {"query": "q"})
    assert ex.empty and ex.texts == []


def test_chat_with_only_images_is_still_scanned_and_empty_chat_is_not():
    only_image = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}]}
    assert not extract_request("completion", only_image).empty
    assert extract_request("completion", {"messages": [{"role": "user", "content": None}]}).empty


CHAT_RESPONSE = {
    "id": "r1",
    "object": "chat.completion",
    "model": "gpt-4o",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "answer zero"}, "finish_reason": "stop"},
        {
            "index": 1,
            "message": {"role": "assistant", "content": [{"type": "text", "text": "part one"}]},
            "finish_reason": "stop",
        },
        {
            "index": 2,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            "finish_reason": "tool_calls",
        },
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}


def test_chat_response_extraction_and_write_back():
    response = copy.deepcopy(CHAT_RESPONSE)
    ex = extract_response("completion", response)
    assert ex.texts == ["answer zero", "part one"]
    assert len(ex.tool_calls) == 1 and ex.model == "gpt-4o"
    assert upper_all(ex) == 2
    assert response["choices"][0]["message"]["content"] == "ANSWER ZERO"
    assert response["choices"][1]["message"]["content"][0]["text"] == "PART ONE"
    assert response["usage"] == CHAT_RESPONSE["usage"]


def test_completion_and_transcription_responses():
    completion = {"object": "text_completion", "model": "m", "choices": [{"index": 0, "text": "t0"}, {"index": 1, "text": "t1"}]}
    ex = extract_response("text_completion", completion)
    assert ex.texts == ["t0", "t1"]
    upper_all(ex)
    assert [c["text"] for c in completion["choices"]] == ["T0", "T1"]

    transcription = {"text": "spoken words"}
    ex = extract_response("audio_transcription", transcription)
    assert ex.texts == ["spoken words"]
    upper_all(ex)
    assert transcription["text"] == "SPOKEN WORDS"


@pytest.mark.parametrize("call_type", ["embeddings", "image_generation", "moderation"])
def test_responses_without_text_extract_nothing(call_type):
    assert extract_response(call_type, {"data": [{"embedding": [0.1]}], "results": []}).empty


def test_count_mismatch_is_reported_and_nothing_is_applied():
    data = copy.deepcopy(CHAT)
    ex = extract_request("completion", data)
    problem = rewrite_problem(ex, texts=["only one"], images=None, guardrail_name="pii")
    assert problem == (
        "Guardrail 'pii' returned 1 texts for 4 inputs; the request was rejected rather than sent half-rewritten"
    )
    problem = rewrite_problem(ex, texts=None, images=["a"], guardrail_name="pii", subject="response")
    assert problem is not None and "returned 1 images for 2 inputs; the response was rejected" in problem
    assert "malformed texts" in rewrite_problem(ex, texts=[1, 2, 3, 4], images=None, guardrail_name="g")
    assert "malformed texts" in rewrite_problem(ex, texts="abc", images=None, guardrail_name="g")
    assert data == CHAT


def test_empty_or_absent_lists_keep_the_originals():
    data = copy.deepcopy(CHAT)
    ex = extract_request("completion", data)
    assert rewrite_problem(ex, texts=[], images=None, guardrail_name="g") is None
    assert apply_rewrite(ex, texts=[], images=None) == 0
    assert data == CHAT


def test_sanitise_headers():
    headers = {
        "Host": "gw",
        "authorization": "Bearer sk-1",
        "cookie": "c=1",
        "user-agent": "ua",
        "x-stainless-lang": "python",
        "x-litellm-tags": "a",
        "x-litellm-api-key": "sk-2",
        "x-tenant": "acme",
    }
    out = sanitise_headers(headers, FORWARDED_HEADERS | {"x-tenant"})
    assert out == {
        "host": "gw",
        "authorization": "[present]",
        "cookie": "[present]",
        "user-agent": "ua",
        "x-stainless-lang": "python",
        "x-litellm-tags": "a",
        "x-litellm-api-key": "[present]",
        "x-tenant": "acme",
    }
    assert sanitise_headers(headers, FORWARDED_HEADERS)["x-tenant"] == "[present]"
    assert sanitise_headers(None, FORWARDED_HEADERS) is None


def test_build_body_has_every_key():
    data = copy.deepcopy(CHAT)
    data.update(litellm_call_id="c", litellm_trace_id="t")
    metadata = {
        "user_api_key_hash": "h",
        "user_api_key_alias": None,
        "user_api_key_user_id": "u",
        "user_api_key_metadata": {"secret": 1},
        "headers": {"authorization": "x"},
    }
    ex = extract_request("completion", data)
    body = orjson.loads(
        build_body(ex, data=data, metadata=metadata, input_type="request", params={"p": 1},
                   allowed_headers=FORWARDED_HEADERS, version="gatehouse-0.1.0")
    )
    assert list(body) == [
        "input_type", "litellm_call_id", "litellm_trace_id", "structured_messages", "images", "tools",
        "texts", "request_data", "request_headers", "litellm_version", "additional_provider_specific_params",
        "tool_calls", "model",
    ]
    assert body["request_data"] == {"user_api_key_hash": "h", "user_api_key_user_id": "u"}
    assert body["request_headers"] == {"authorization": "[present]"}
    assert body["structured_messages"] == CHAT["messages"] and body["tools"] == CHAT["tools"]
    assert body["litellm_version"] == "gatehouse-0.1.0" and body["additional_provider_specific_params"] == {"p": 1}

    empty = orjson.loads(
        build_body(extract_request("embeddings", {"input": "x"}), data={}, metadata={}, input_type="response",
                   params={}, allowed_headers=FORWARDED_HEADERS, version="v")
    )
    assert empty["images"] is None and empty["tools"] is None and empty["tool_calls"] is None
    assert empty["structured_messages"] is None and empty["model"] is None and empty["request_headers"] is None
    assert empty["litellm_call_id"] is None and empty["request_data"] == {}
