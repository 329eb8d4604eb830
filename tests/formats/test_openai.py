"""The OpenAI formats (gatehouse/formats/openai_*.py): pure functions over answers, chunks and frames."""

from __future__ import annotations

import orjson
import pytest

from gatehouse.endpoints import ENDPOINTS, format_for
from gatehouse.errors import RateLimitError
from gatehouse.formats.base import render_error
from gatehouse.formats.openai_chat import CHAT
from gatehouse.formats.openai_common import OPENAI
from gatehouse.formats.openai_text import TEXT

USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
CHAT_ANSWER = {"id": "c1", "object": "chat.completion", "created": 7, "model": "m",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi there"},
                            "finish_reason": "stop"}], "usage": USAGE}
TEXT_ANSWER = {"id": "t1", "object": "text_completion", "created": 7, "model": "m",
               "choices": [{"index": 0, "text": "hi there", "finish_reason": "length"}], "usage": USAGE}


@pytest.mark.parametrize(("fmt", "answer"), [(CHAT, CHAT_ANSWER), (TEXT, TEXT_ANSWER)])
def test_an_answer_streamed_and_summed_up_again_is_the_same_answer(fmt, answer) -> None:
    events = fmt.stream.from_answer(answer)
    raw = b"".join(fmt.stream.frame(e) for e in events) + fmt.stream.end
    summary = fmt.stream.summary()
    for event in fmt.stream.events(raw):
        summary.observe(event)
    assert summary.text() == "hi there"
    again = summary.response("group")
    assert again["object"] == answer["object"] and again["model"] == "group" and again["usage"] == USAGE
    assert again["choices"][0]["finish_reason"] == answer["choices"][0]["finish_reason"]
    assert fmt.answer_text(answer) == ("hi there" if fmt is CHAT else None)  # rules read chat answers only


@pytest.mark.parametrize("piece", [b'data: {"a":1}\n\ndata: [DONE]\n\n', b'data: {"a":1}\r\n\r\ndata:[DONE]\r\n\r\n'])
def test_the_end_of_an_openai_stream_is_found_in_relayed_bytes(piece: bytes) -> None:
    at = CHAT.stream.end_at(piece)
    assert piece[:at].rstrip() == b'data: {"a":1}'
    assert list(CHAT.stream.events(piece)) == [{"a": 1}]
    assert CHAT.stream.end_at(b'data: {"text":"[DONE] is not the end"}\n\n') == -1


def test_the_model_is_restamped_in_bytes_and_events() -> None:
    restamper = CHAT.stream.restamper("upstream-model", "group")
    assert restamper.bytes(b'{"model":"upstream-model","x":1}') == b'{"model":"group","x":1}'
    event = {"model": "upstream-model"}
    restamper.event(event)
    assert event == {"model": "group"}
    assert CHAT.stream.restamper("same", "same").bytes(b'{"model":"same"}') == b'{"model":"same"}'


def test_the_openai_error_body_carries_status_type_and_call_id_when_asked() -> None:
    error = RateLimitError("slow down", headers={"retry-after": "3"})
    status, body, headers = render_error(OPENAI, error, call_id="call-9")
    assert status == 429 and headers == {"retry-after": "3"}
    assert orjson.loads(body) == {"error": {"message": "slow down", "type": "throttling_error", "param": None,
                                            "code": "429", "litellm_call_id": "call-9"}}
    assert "litellm_call_id" not in CHAT.error_body(error)["error"]


def test_every_endpoint_names_a_format_and_only_streaming_ones_have_events() -> None:
    for endpoint in ENDPOINTS:
        assert endpoint.format is format_for(endpoint.call_type)
        assert (endpoint.format.stream is not None) == endpoint.can_stream
    assert format_for("acompletion") is CHAT and format_for("atext_completion") is TEXT
    assert format_for("no-such-call-type") is None


def test_rejections_exist_for_chat_and_text_only() -> None:
    assert CHAT.rejection("no", "m")["choices"][0]["message"] == {"role": "assistant", "content": "no"}
    assert TEXT.rejection("no", "m")["choices"][0]["text"] == "no"
    assert [e.path for e in ENDPOINTS if e.format.rejection("no", "m") is None] == [
        "/embeddings", "/images/generations", "/moderations", "/audio/transcriptions", "/audio/translations",
        "/audio/speech", "/rerank"]
