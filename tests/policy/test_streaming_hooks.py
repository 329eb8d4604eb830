"""Streaming hooks: iterator hooks wrap the chunk stream (a later callback wraps
an earlier one), per-chunk hooks see the accumulated text, and an error after
the first byte ends the stream with one SSE error event and ``[DONE]``."""

from __future__ import annotations

import openai
import pytest
from policy_support import chat_body, log_lines, new_id, post, sse_events, stream_text, with_id


def stream(client, text, call_id, chunks):
    return client.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": text}], stream=True, extra_headers=with_id(call_id),
        extra_body={"fake_upstream": {"chunks": chunks}})


def raw_stream(gw, text, call_id, chunks):
    return post(gw.api_base, "/chat/completions", chat_body(text, stream=True, fake_upstream={"chunks": chunks}),
                headers=with_id(call_id))


# -- iterator hooks -------------------------------------------------------------------------------

def test_the_later_iterator_hook_wraps_the_earlier_one(client, events):
    call_id = new_id()
    chunks = list(stream(client, "first:iter-upper second:iter-suffix second:iter-record", call_id, ["ab ", "cd"]))
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    # first upper-cases (attribute access), second — the outer one — appends "-x" (item access).
    assert contents == ["AB -x", "CD-x"]
    seen_by_second = [e["content"] for e in events.of(call_id, "iterator", "second") if e["content"]]
    assert seen_by_second == ["AB ", "CD"]


def test_iterator_hooks_that_only_pass_chunks_change_nothing(client):
    chunks = list(stream(client, "plain", new_id(), ["one ", "two"]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.model == "fake" for c in chunks)


def test_an_iterator_hook_raising_after_chunks_ends_the_stream_with_one_error_event(main_gw, events):
    call_id = new_id()
    raw = raw_stream(main_gw, "first:iter-raise", call_id, ["a ", "b ", "c ", "d"])
    assert raw.status_code == 200
    frames = sse_events(raw)
    assert frames[-1] == "[DONE]"
    errors = [i for i, f in enumerate(frames) if isinstance(f, dict) and "error" in f]
    assert errors == [len(frames) - 2]  # exactly one, right before [DONE]
    assert frames[-2]["error"]["message"] == "iterator hook exploded"
    assert frames[-2]["error"]["code"] == "500"
    assert stream_text(frames[:-2]) == "a b "  # role chunk, "a ", "b ": three chunks sent, then the error
    assert [f["exc"] for f in events.of(call_id, "failure")] == ["iterator hook exploded"] * 2


def test_an_iterator_hook_raising_before_any_chunk_is_a_json_error(client, main_gw):
    with pytest.raises(openai.InternalServerError) as err:
        list(stream(client, "second:iter-raise0", new_id(), ["a"]))
    assert err.value.body["message"] == "iterator hook exploded before the first chunk"
    call_id = new_id()
    raw = raw_stream(main_gw, "second:iter-raise0", call_id, ["a"])
    assert raw.status_code == 500
    assert raw.headers["content-type"].startswith("application/json")
    lines = log_lines(main_gw, call_id)
    assert any("custom_callbacks.second.async_post_call_streaming_iterator_hook" in line for line in lines), lines


async def test_async_client_gets_the_wrapped_stream(aclient):
    response = await aclient.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "first:iter-upper"}], stream=True,
        extra_body={"fake_upstream": {"chunks": ["mixed ", "Case"]}})
    text = "".join([c.choices[0].delta.content or "" async for c in response])
    assert text == "MIXED CASE"


# -- per-chunk hooks ------------------------------------------------------------------------------

def test_the_per_chunk_hook_gets_the_accumulated_text(client, events):
    token = new_id()
    chunks = list(stream(client, "plain", new_id(), [token, " b", " c"]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == f"{token} b c"  # unchanged (hook returns None)
    seen = [e for e in events.of(hook="stream_chunk", who="first") if token in e["text"]]
    assert all(e["type"] == "str" for e in seen)
    # one call per chunk: the three content chunks, then the finish chunk (nothing added)
    assert [e["text"] for e in seen] == [token, f"{token} b", f"{token} b c", f"{token} b c"]
    assert len([e for e in events.of(hook="stream_chunk", who="second") if token in e["text"]]) == 4


def test_a_data_frame_returned_by_the_per_chunk_hook_is_sent_verbatim_and_ends_the_stream(main_gw):
    token = new_id()
    raw = raw_stream(main_gw, "plain", new_id(), [token, " chunk-frame", " never"])
    assert raw.status_code == 200
    assert 'data: {"error": {"message": "stream hook error", "code": "400"}}\n\n' in raw.text
    frames = sse_events(raw)
    assert frames[-1] == "[DONE]"
    assert frames[-2] == {"error": {"message": "stream hook error", "code": "400"}}
    assert stream_text(frames[:-2]) == token
    assert "never" not in raw.text


def test_a_per_chunk_hook_raising_ends_the_stream_with_an_error_event(main_gw, events):
    call_id, token = new_id(), new_id()
    raw = raw_stream(main_gw, "plain", call_id, [token, " chunk-raise", " never"])
    assert raw.status_code == 200
    frames = sse_events(raw)
    assert frames[-1] == "[DONE]"
    assert frames[-2]["error"]["message"] == "chunk hook exploded"
    assert [f for f in frames if isinstance(f, dict) and "error" in f] == [frames[-2]]
    assert stream_text(frames[:-2]) == token
    assert "never" not in raw.text
    assert events.order(call_id, "failure") == ["first", "second"]


def test_sse_headers_and_framing(main_gw):
    raw = raw_stream(main_gw, "plain", new_id(), ["x"])
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.headers["cache-control"] == "no-cache"
    assert raw.text.endswith("data: [DONE]\n\n")
