"""post_call guardrails on streamed responses: nothing reaches the client unchecked.

docs/guardrails.md *Streaming*; checklist items 83–86 (Gatehouse holds chunks until
checked and delivers rewrites, where LiteLLM leaks chunks 1–4 and drops rewrites).

The fake upstream's chat stream is: one role-only chunk, one chunk per delta in
``chunks``, one ``finish_reason`` chunk (then a usage chunk when asked).
"""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from gatehouse.testing.fake_guardrail import Reply, block_on, mask

WORDS = [f"w{i:02d} " for i in range(1, 13)]  # 12 content chunks
HELLO = [{"role": "user", "content": "hi"}]


def _body(guardrail: str, **extra: Any) -> dict[str, Any]:
    return {"model": "fake", "messages": HELLO, "stream": True, "guardrails": [guardrail], **extra}


def _read(gw, body: dict[str, Any], on_text=None) -> tuple[int, list[str], list[float]]:
    """Raw SSE over httpx: (status, data payloads, arrival time of each payload)."""
    payloads: list[str] = []
    times: list[float] = []
    received = ""
    with gw.stream("/v1/chat/completions", body) as response:
        status = response.status_code
        for line in response.iter_lines():
            if not line.startswith("data: "):
                assert line == "", line
                continue
            payload = line[len("data: "):]
            payloads.append(payload)
            times.append(time.monotonic())
            text = _text(payload)
            if text:
                received += text
                if on_text is not None:
                    on_text(received)
    return status, payloads, times


def _text(payload: str) -> str:
    if payload == "[DONE]":
        return ""
    chunk = json.loads(payload)
    return "".join((c.get("delta") or {}).get("content") or "" for c in chunk.get("choices") or [])


def _checked(guard) -> list[str]:
    """The text each check covered (one choice)."""
    return [body["texts"][0] for body in guard.bodies]


def test_no_text_reaches_the_client_before_it_was_checked(main):
    main.upstream.queue(chunks=WORDS, chunk_delay=0.1)
    guard = main.guards["post"]
    seen: list[tuple[str, list[str]]] = []

    def on_text(received: str) -> None:
        checked = _checked(guard)
        seen.append((received, checked))
        assert checked, f"{received!r} arrived before any check"
        assert checked[-1].startswith(received), f"{received!r} arrived unchecked (checked: {checked[-1]!r})"

    started = time.monotonic()
    status, payloads, times = _read(main, _body("post"), on_text)
    assert status == 200
    assert "".join(_text(p) for p in payloads) == "".join(WORDS)
    assert payloads[-1] == "[DONE]"
    assert len(seen) >= 3  # several releases, each checked before it arrived
    first_text = next(t for p, t in zip(payloads, times) if _text(p))
    # the first tokens arrive long before the stream ends (12 × 0.1 s of generation)
    assert first_text - started < (times[-1] - started) - 0.5
    assert _checked(guard)[-1] == "".join(WORDS)


def test_block_mid_stream_never_shows_the_word_and_ends_with_an_error_event(main):
    chunks = [*WORDS[:7], "FORBIDDEN ", *WORDS[8:]]
    main.upstream.queue(chunks=chunks, chunk_delay=0.03)
    main.guards["post"].default = block_on("FORBIDDEN", "forbidden word")
    status, payloads, _ = _read(main, _body("post"))
    assert status == 200
    assert not any("FORBIDDEN" in p for p in payloads)
    received = "".join(_text(p) for p in payloads)
    assert received.startswith("".join(WORDS[:4])), received  # what came before was released
    assert "".join(chunks[:7]).startswith(received)
    assert json.loads(payloads[-2]) == {"error": {"message": "forbidden word", "type": "invalid_request_error",
                                                  "param": None, "code": "400"}}
    assert payloads[-1] == "[DONE]"
    # the upstream stream is closed rather than read to the end
    assert main.upstream.wait_until(lambda: main.upstream.cancelled == 1, timeout=3)


def test_block_before_the_first_release_is_a_plain_400(main):
    main.upstream.queue(chunks=["FORBIDDEN ", *WORDS])
    main.guards["post"].default = block_on("FORBIDDEN", "forbidden from the start")
    with pytest.raises(openai.BadRequestError) as info:
        for _ in main.client().chat.completions.create(model="fake", messages=HELLO, stream=True,
                                                       extra_body={"guardrails": ["post"]}):
            pass
    assert info.value.body["message"] == "forbidden from the start"


def test_rewrite_on_a_sampled_stream_reaches_the_client(main):
    chunks = ["my ", "secret ", "is ", "safe ", "with ", "you ", "and ", "another ", "secret ", "here"]
    main.upstream.queue(chunks=chunks)
    main.guards["post"].default = mask("secret")
    stream = main.client().chat.completions.create(model="fake", messages=HELLO, stream=True,
                                                   stream_options={"include_usage": True},
                                                   extra_body={"guardrails": ["post"]})
    parts = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in parts if c.choices)
    assert text == "".join(chunks).replace("secret", "[MASKED]")
    assert parts[-1].usage is not None and parts[-1].usage.completion_tokens == len(chunks)
    assert [c.choices[0].finish_reason for c in parts if c.choices][-1] == "stop"
    assert {c.id for c in parts} == {parts[0].id}
    assert all(c.model == "fake" for c in parts)


async def test_rewrite_at_end_of_stream_reaches_the_async_client(main):
    main.upstream.queue(chunks=["call ", "555-", "0100 ", "now"])
    main.guards["stream_eos"].default = mask("555-0100", "[PHONE]")
    client = main.async_client()
    try:
        stream = await client.chat.completions.create(model="fake", messages=HELLO, stream=True,
                                                      extra_body={"guardrails": ["stream_eos"]})
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    finally:
        await client.close()
    assert text == "call [PHONE] now"
    assert _checked(main.guards["stream_eos"]) == ["call 555-0100 now"]


def test_rewrite_of_text_already_streamed_stops_the_stream(main):
    """A value split across windows: the second check rewrites released text."""
    main.upstream.queue(chunks=["my ", "id ", "123-", "45-", "6789 ", "done ", "more ", "text"])
    main.guards["post"].reply(Reply("NONE"), Reply("GUARDRAIL_INTERVENED", texts=["my id [SSN] done more text"]))
    status, payloads, _ = _read(main, _body("post"))
    assert status == 200
    received = "".join(_text(p) for p in payloads)
    assert received == "my id 123-45-"  # the first window (role chunk + 4 content chunks)
    assert _checked(main.guards["post"]) == ["my id 123-45-", "my id 123-45-6789 done more text"]
    error = json.loads(payloads[-2])["error"]
    assert error["message"].startswith("Guardrail 'post' rewrote part of the response that was already streamed")
    assert payloads[-1] == "[DONE]"


@pytest.mark.parametrize("guardrail, checks", [
    # docs/guardrails.md: a check every N chunks and at the end, skipped when there is no new text.
    # 14 chunks: role-only, 12 content, finish.
    ("post", 3),        # default rate 5: at chunks 5, 10, then the end (content in 11–13)
    ("stream1", 12),    # rate 1: every content chunk; role and finish chunks add no text
    ("stream_eos", 1),  # streaming_end_of_stream_only: once, at the end
    ("stream_opt", 5),  # optional_params.streaming_sampling_rate 3 wins over 10: at 3, 6, 9, 12, end
])
def test_sampling_settings_set_the_number_of_checks(main, guardrail, checks):
    main.upstream.queue(chunks=WORDS)
    status, payloads, _ = _read(main, _body(guardrail))
    assert status == 200
    assert "".join(_text(p) for p in payloads) == "".join(WORDS)
    checked = _checked(main.guards[guardrail])
    assert len(checked) == checks, checked
    assert all(later.startswith(earlier) for earlier, later in zip(checked, checked[1:]))
    assert checked[-1] == "".join(WORDS)
    assert {b["input_type"] for b in main.guards[guardrail].bodies} == {"response"}


def test_a_stream_check_carries_the_call_id(main):
    main.upstream.queue(chunks=WORDS[:3])
    with main.stream("/v1/chat/completions", _body("stream_eos")) as response:
        call_id = response.headers["x-litellm-call-id"]
        assert response.headers["x-litellm-applied-guardrails"] == "stream_eos"
        response.read()
    (body,) = main.guards["stream_eos"].bodies
    assert body["litellm_call_id"] == call_id
    assert body["model"] == "fake"


def test_completion_streams_are_guarded_too(main):
    main.upstream.queue(chunks=["a ", "secret ", "b"])
    main.guards["stream_eos"].default = mask("secret")
    stream = main.client().completions.create(model="fake", prompt="x", stream=True,
                                              extra_body={"guardrails": ["stream_eos"]})
    assert "".join(c.choices[0].text for c in stream if c.choices) == "a [MASKED] b"
