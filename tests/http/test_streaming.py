"""SSE streaming: relayed chunk by chunk, cancelled with the client, ended cleanly on errors."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "stream please"}]


def _stream_chat(core) -> list:
    """Chunks of one streamed chat request through the SDK."""
    with core.client() as client:
        return list(client.chat.completions.create(model="fake", messages=MESSAGES, stream=True))


def _text(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks)


def test_sync_sdk_stream(core, fake_upstream: FakeUpstream) -> None:
    chunks = _stream_chat(core)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert _text(chunks) == "Hello! You said: stream please"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.model for c in chunks} == {"fake"}
    assert fake_upstream.requests[0].json["stream"] is True


def test_text_that_mentions_done_is_not_the_end_of_the_stream(core, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(chunks=["the marker ", "data: [DONE]", " is just text", " here"])
    chunks = _stream_chat(core)
    assert _text(chunks) == "the marker data: [DONE] is just text here"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_an_upstream_that_ignores_stream_still_streams_to_the_client(core, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(ignore_stream=True)
    chunks = _stream_chat(core)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert _text(chunks) == "Hello! You said: stream please"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.model for c in chunks} == {"fake"}


def test_a_completions_upstream_that_ignores_stream(core, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(ignore_stream=True)
    with core.client() as client:
        chunks = list(client.completions.create(model="fake", prompt="say it", stream=True))
    assert "".join(c.choices[0].text for c in chunks) == "Hello! You said: say it"
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_async_sdk_stream_with_usage(core, fake_upstream: FakeUpstream) -> None:
    async with core.async_client() as client:
        stream = await client.chat.completions.create(
            model="fake", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        "Hello! You said: stream please"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5
    assert fake_upstream.requests[0].json["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("path", [CHAT, "/chat/completions"])
def test_raw_frames_and_headers(core, fake_upstream: FakeUpstream, parse_sse, path: str) -> None:
    fake_upstream.queue(chunks=["A", "B"])
    response = core.post(path, {"model": "fake", "messages": MESSAGES, "stream": True},
                         headers={"x-litellm-call-id": "stream-call-1"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert len(response.headers["x-litellm-call-id"]) == 36  # the gateway's own id
    frames = parse_sse(response.content)
    assert frames[-1] == "[DONE]"
    payloads = [json.loads(f) for f in frames[:-1]]
    assert [p["choices"][0]["delta"].get("content") for p in payloads] == ["", "A", "B", None]
    assert {p["model"] for p in payloads} == {"fake"}


def test_chunks_are_relayed_as_they_arrive(core, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(chunks=["one ", "two ", "three ", "four ", "five"], chunk_delay=0.25)
    arrivals: list[tuple[float, int]] = []
    started = time.monotonic()
    with core.client() as client:
        for chunk in client.chat.completions.create(model="fake", messages=MESSAGES, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append((time.monotonic() - started, fake_upstream.completed))
    assert len(arrivals) == 5
    first_at, completed_then = arrivals[0]
    assert completed_then == 0, "the first chunk must reach the client before the upstream finished"
    assert first_at < 0.9
    assert arrivals[-1][0] - first_at >= 0.7  # spread like the upstream sent them, not buffered
    assert fake_upstream.wait_until(lambda: fake_upstream.completed == 1)


def test_client_disconnect_cancels_the_upstream(core, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(chunks=[f"w{i} " for i in range(40)], chunk_delay=0.1)
    body = {"model": "fake", "messages": MESSAGES, "stream": True}
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", core.base_url + CHAT, json=body, headers=core.auth()) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if '"w0 "' in line:
                    break
    assert fake_upstream.wait_until(lambda: fake_upstream.cancelled == 1, timeout=3)
    assert fake_upstream.completed == 0
    with core.client() as client:  # the gateway keeps serving
        assert client.chat.completions.create(model="fake", messages=MESSAGES).choices


def test_upstream_dying_mid_stream(core, fake_upstream: FakeUpstream, parse_sse) -> None:
    fake_upstream.queue(chunks=["one ", "two ", "three"], die_after_chunks=2)
    response = core.post(CHAT, {"model": "fake", "messages": MESSAGES, "stream": True})
    assert response.status_code == 200
    frames = parse_sse(response.content)
    assert frames[-1] == "[DONE]"
    assert [json.loads(f)["choices"][0]["delta"]["content"] for f in frames[:3]] == ["", "one ", "two "]
    assert len(frames) == 5
    error = json.loads(frames[3])
    assert error == {"error": {"message": "The upstream connection broke in the middle of the stream",
                               "type": "internal_server_error", "param": None, "code": "502"}}

    fake_upstream.queue(chunks=["one ", "two ", "three"], die_after_chunks=1)
    received = []
    with core.client() as client, pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(model="fake", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "one "]
    assert "broke in the middle of the stream" in info.value.message

    with core.client() as client:  # the server keeps serving
        assert client.chat.completions.create(model="fake", messages=MESSAGES).choices[0].message.content


def test_stalled_stream_times_out_with_an_error_event(core, fake_upstream: FakeUpstream, parse_sse) -> None:
    fake_upstream.queue(chunks=["a", "b"], chunk_delay=3)
    started = time.monotonic()
    response = core.post(CHAT, {"model": "fake-slow", "messages": MESSAGES, "stream": True})
    assert time.monotonic() - started < 2.5
    frames = parse_sse(response.content)
    assert frames[-1] == "[DONE]"
    error = json.loads(frames[-2])["error"]
    assert error["code"] == "504" and "stalled" in error["message"]
    assert fake_upstream.wait_until(lambda: fake_upstream.cancelled == 1, timeout=5)


def test_error_before_the_first_byte_is_plain_json(core, expect_error, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(status=500)
    response = core.post(CHAT, {"model": "fake", "messages": MESSAGES, "stream": True},
                         headers={"x-litellm-call-id": "early-fail"})
    expect_error(response, 500, message="fake upstream error")
    assert len(response.headers["x-litellm-call-id"]) == 36
    fake_upstream.queue(status=429, headers={"retry-after": "3"})
    with core.client() as client, pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="fake", messages=MESSAGES, stream=True)


def test_stream_that_never_starts_times_out_as_json(core, expect_error, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(delay=3)
    started = time.monotonic()
    response = core.post(CHAT, {"model": "fake-slow", "messages": MESSAGES, "stream": True})
    assert time.monotonic() - started < 2.0
    expect_error(response, 504)


def test_stream_false_is_a_json_answer(core, fake_upstream: FakeUpstream) -> None:
    response = core.post(CHAT, {"model": "fake", "messages": MESSAGES, "stream": False})
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["object"] == "chat.completion"
