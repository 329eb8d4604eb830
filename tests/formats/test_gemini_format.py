"""Pure translation corners of formats/gemini* that the end-to-end tests do not reach."""

from __future__ import annotations

import pytest

from gatehouse.errors import BadRequestError
from gatehouse.formats import gemini, gemini_answer
from gatehouse.formats.gemini_schema import openapi_schema


def test_schema_inlines_refs_and_nullable_any_of() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": False,
        "$defs": {"Pet": {"type": "object", "properties": {"kind": {"const": "cat"}}, "title": "Pet"}},
        "properties": {"pet": {"$ref": "#/$defs/Pet"},
                       "note": {"anyOf": [{"type": "string", "maxLength": 9}, {"type": "null"}], "default": None},
                       "tags": {"type": "array", "items": {"type": ["integer", "string"]}}},
    }
    assert openapi_schema(schema) == {
        "type": "object",
        "properties": {"pet": {"type": "object", "properties": {"kind": {"enum": ["cat"]}}, "title": "Pet"},
                       "note": {"nullable": True, "type": "string", "maxLength": 9, "default": None},
                       "tags": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}},
    }


def test_recursive_ref_is_bounded() -> None:
    schema = {"$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
              "$ref": "#/$defs/Node"}
    converted = openapi_schema(schema)
    depth = 0
    while "properties" in converted:
        converted, depth = converted["properties"]["next"], depth + 1
    assert converted == {"type": "object"} and depth > 5


def test_usage_when_candidates_already_count_thoughts() -> None:
    usage = gemini_answer.usage({"promptTokenCount": 10, "candidatesTokenCount": 25, "thoughtsTokenCount": 20,
                                 "totalTokenCount": 35})
    assert (usage["completion_tokens"], usage["total_tokens"]) == (25, 35)
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 20}


def test_usage_adds_tool_use_prompt_tokens() -> None:
    usage = gemini_answer.usage({"promptTokenCount": 10, "toolUsePromptTokenCount": 3, "candidatesTokenCount": 2,
                                 "totalTokenCount": 15})
    assert usage == {"prompt_tokens": 13, "completion_tokens": 2, "total_tokens": 15}


def test_gemini_1_takes_response_schema() -> None:
    out = gemini.chat_request({"messages": [{"role": "user", "content": "x"}], "response_format": {
        "type": "json_schema", "json_schema": {"name": "n", "schema": {
            "type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}}}},
        model="gemini-1.5-pro", provider="gemini", fetched={})
    assert out["generationConfig"]["responseSchema"] == {"type": "object", "properties": {"a": {"type": "string"}}}


def test_vertex_keeps_typed_urls_and_lists_the_others() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.test/a.png"}},
        {"type": "image_url", "image_url": {"url": "https://example.test/render?id=1"}},
        {"type": "file", "file": {"file_id": "https://example.test/doc", "format": "application/pdf"}}]}]}
    assert gemini.media_urls(body, vertex=True) == ["https://example.test/render?id=1"]
    assert len(gemini.media_urls(body, vertex=False)) == 3
    fetched = {"https://example.test/render?id=1": gemini.Blob("image/jpeg", "QUJD")}
    parts = gemini.chat_request(body, model="gemini-2.5-flash", provider="vertex_ai", fetched=fetched)["contents"][0]["parts"]
    assert parts == [{"fileData": {"fileUri": "https://example.test/a.png", "mimeType": "image/png"}},
                     {"inlineData": {"mimeType": "image/jpeg", "data": "QUJD"}},
                     {"fileData": {"fileUri": "https://example.test/doc", "mimeType": "application/pdf"}}]


def test_input_audio_and_unknown_parts() -> None:
    out = gemini.chat_request({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]}]},
        model="gemini-2.5-flash", provider="gemini", fetched={})
    assert out["contents"][0]["parts"] == [{"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}]
    with pytest.raises(BadRequestError, match="type 'video_url'"):
        gemini.chat_request({"messages": [{"role": "user", "content": [{"type": "video_url"}]}]},
                            model="m", provider="gemini", fetched={})


def test_config_keys_are_not_refused_but_client_keys_are() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "vertex_project": "p", "mystery": 1}
    with pytest.raises(BadRequestError, match=r"\['mystery'\]"):
        gemini.chat_request(body, model="m", provider="vertex_ai", fetched={}, ignored={"vertex_project"})
    out = gemini.chat_request(body, model="m", provider="vertex_ai", fetched={}, ignored={"vertex_project"},
                              drop_params=True)
    assert set(out) == {"contents"}
