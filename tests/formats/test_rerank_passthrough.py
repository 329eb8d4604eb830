"""The pure pieces of rerank and pass-through: shapes, field paths, usage readers."""

from __future__ import annotations

import pytest

from gatehouse.errors import BadRequestError, PassThroughUpstreamError
from gatehouse.formats.base import apply_rewrite
from gatehouse.formats.openai_other import SPEECH, audio_type
from gatehouse.formats.passthrough import PASS_THROUGH, parse_path, select
from gatehouse.formats.passthrough_usage import reader_for
from gatehouse.formats.rerank import RERANK, server_answer, server_request

DOCS = ["a b", {"text": "c d", "id": 1}, {"title": "t", "body": "e"}]


def test_rerank_texts_and_their_write_back() -> None:
    body = {"model": "m", "query": "q", "documents": [dict(d) if isinstance(d, dict) else d for d in DOCS]}
    ex = RERANK.extract_request(body)
    assert ex.texts == ["q", "a b", "c d", "t", "e"]
    apply_rewrite(ex, texts=["Q", "A", "C", "T", "E"], images=None)
    assert body["query"] == "Q" and body["documents"] == ["A", {"text": "C", "id": 1}, {"title": "T", "body": "E"}]


@pytest.mark.parametrize("documents", [None, [], "x", [1], [["a"]]])
def test_rerank_documents_must_be_strings_or_objects(documents: object) -> None:
    with pytest.raises(BadRequestError) as caught:
        RERANK.to_provider({"query": "q", "documents": documents})
    assert caught.value.param == "documents"


def test_rerank_servers_requests_and_answers() -> None:
    body = {"query": "q", "documents": DOCS, "top_n": 2, "return_documents": False}
    assert server_request(body, model="m", tei=False) == {"model": "m", "query": "q",
                                                          "documents": ["a b", "c d", "title: t\nbody: e"],
                                                          "top_n": 2, "return_documents": False}
    assert server_request(body, model="m", tei=True)["texts"][1] == "c d"
    tei = server_answer([{"index": 0, "score": 0.1}, {"index": 2, "score": 0.9}, {"index": 1, "score": 0.5}],
                        documents=DOCS, return_documents=True, top_n=2)
    assert [(r["index"], r["document"]["text"]) for r in tei["results"]] == [(2, "title: t\nbody: e"), (1, "c d")]
    vllm = server_answer({"id": "r1", "usage": {"total_tokens": 9}, "results": [{"index": 0, "relevance_score": 0.3}]},
                         documents=DOCS, return_documents=False, top_n=None)
    assert vllm == {"id": "r1", "results": [{"index": 0, "relevance_score": 0.3}],
                    "meta": {"billed_units": {"input_tokens": 9}, "tokens": {"input_tokens": 9, "output_tokens": 0}}}
    with pytest.raises(ValueError):
        server_answer({"no": "results"}, documents=DOCS, return_documents=True, top_n=None)


def test_speech_texts_and_content_types() -> None:
    assert SPEECH.extract_request({"input": "say this", "voice": "alloy"}).texts == ["say this"]
    assert audio_type(None, None) == "audio/mpeg" and audio_type("wav", "application/octet-stream") == "audio/wav"
    assert audio_type("mp3", "audio/ogg") == "audio/ogg" and audio_type("mp3", "text/event-stream") == "text/event-stream"


@pytest.mark.parametrize("path,steps", [
    ("$.messages[*].content", ["messages", None, "content"]), ("documents[0]", ["documents", 0]),
    ("contents[*].parts[*].text", ["contents", None, "parts", None, "text"]), ("query", ["query"]),
])
def test_field_paths(path: str, steps: list[object]) -> None:
    assert parse_path(path) == steps


@pytest.mark.parametrize("path", ["", "$", "a[b", "a..b]", "a[*"])
def test_malformed_field_paths(path: str) -> None:
    with pytest.raises(ValueError):
        parse_path(path)


def test_selected_positions_are_where_the_values_are() -> None:
    body = {"messages": [{"content": "x"}, {"content": "y"}, {"role": "r"}]}
    assert [c[k] for c, k in select(body, parse_path("messages[*].content"))] == ["x", "y"]
    assert list(select(body, parse_path("messages[5].content"))) == []


def _spec(fields: list[str] | None = None, guarded: bool = True) -> dict[str, object]:
    return {"pass_through": {"route": "/r", "guarded": guarded, "request_fields": fields or []}}


def test_pass_through_texts_only_on_a_route_that_opts_in() -> None:
    body = {"model": "claude", "system": "be kind", "max_tokens": 5,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image"}]}]}
    assert PASS_THROUGH.extract_request({**body, "metadata": _spec(guarded=False)}).empty
    assert PASS_THROUGH.extract_request({**body, "metadata": _spec()}).texts == ["be kind", "hi"]
    assert PASS_THROUGH.extract_request({**body, "metadata": _spec(["system"])}).texts == ["be kind"]
    gemini = {"contents": [{"parts": [{"text": "a"}, {"inlineData": {}}]}], "metadata": _spec()}
    assert PASS_THROUGH.extract_request(gemini).texts == ["a"]


def test_pass_through_errors_keep_the_providers_body() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert PASS_THROUGH.error_body(PassThroughUpstreamError("busy", status=529, body=body)) == body
    assert PASS_THROUGH.error_body(PassThroughUpstreamError("<html>", status=502, body=None))["error"]["message"] == "<html>"


def test_usage_readers() -> None:
    anthropic = reader_for("anthropic")
    assert anthropic is not None
    anthropic.feed({"type": "message_start", "message": {"usage": {"input_tokens": 10, "cache_read_input_tokens": 5,
                                                                   "output_tokens": 1}}})
    anthropic.feed({"type": "message_delta", "usage": {"output_tokens": 7}})
    assert anthropic.usage() is not None and anthropic.usage()["prompt_tokens"] == 15  # type: ignore[index]
    assert anthropic.usage()["completion_tokens"] == 7  # type: ignore[index]
    responses = reader_for("openai")
    assert responses is not None
    responses.feed({"type": "response.completed", "response": {"usage": {"input_tokens": 3, "output_tokens": 4}}})
    assert responses.usage() == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7,
                                 "prompt_tokens_details": {"cached_tokens": 0}}
    rerank = reader_for("cohere")
    assert rerank is not None
    rerank.feed({"results": [], "meta": {"billed_units": {"search_units": 2}}})
    assert rerank.usage() is not None and rerank.usage()["search_units"] == 2  # type: ignore[index]
    vertex = reader_for("vertex_ai")
    assert vertex is not None
    vertex.feed({"usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 3, "totalTokenCount": 5}})
    assert vertex.usage() is not None and vertex.usage()["total_tokens"] == 5  # type: ignore[index]
    assert reader_for(None) is None and reader_for("nobody") is None
