"""Modes and order: pre_call in config order, during_call in parallel with the upstream,
post_call before the response leaves, several modes per guardrail.

docs/guardrails.md *Modes and order*; checklist items 13, 20, 21, 23, 76.
"""

from __future__ import annotations

import time

import openai
import pytest

from gatehouse.testing.fake_guardrail import Reply, mask

HELLO = [{"role": "user", "content": "hello alpha"}]


def _chat(gw, guardrails, messages=HELLO, **kw):
    return gw.client().chat.completions.create(model="fake", messages=messages,
                                               extra_body={"guardrails": guardrails, **kw.pop("extra", {})}, **kw)


def test_pre_call_guardrails_run_in_config_order_each_seeing_the_previous_rewrite(main):
    """Config order: `pre`, `pre2` (top-level), then `both` (litellm_settings) — not the request's order."""
    main.guards["pre"].default = mask("alpha", "beta")
    main.guards["pre2"].default = mask("beta", "gamma")
    main.guards["both"].default = mask("gamma", "delta")
    completion = _chat(main, ["both", "pre2", "pre"])
    assert main.guards["pre"].bodies[0]["texts"] == ["hello alpha"]
    assert main.guards["pre2"].bodies[0]["texts"] == ["hello beta"]
    assert main.guards["both"].bodies[0]["texts"] == ["hello gamma"]
    assert main.guards["pre"].requests[0].time <= main.guards["pre2"].requests[0].time
    assert main.guards["pre2"].requests[0].time <= main.guards["both"].requests[0].time
    assert main.upstream.requests[0].json["messages"][0]["content"] == "hello delta"
    assert completion.choices[0].message.content == "Hello! You said: hello delta"


def test_a_block_stops_the_later_guardrails(main):
    main.guards["pre"].reply(Reply("BLOCKED", blocked_reason="first says no"))
    with pytest.raises(openai.BadRequestError) as info:
        _chat(main, ["pre", "pre2"])
    assert info.value.body["message"] == "first says no"
    assert main.guards["pre2"].count == 0


def test_during_call_runs_while_the_upstream_works(main):
    main.upstream.queue(delay=1.0)
    main.guards["during"].reply(Reply("NONE", delay=1.0))
    started = time.monotonic()
    completion = _chat(main, ["during"])
    elapsed = time.monotonic() - started
    assert completion.choices[0].message.content == "Hello! You said: hello alpha"
    assert elapsed < 1.75, f"checks ran one after the other ({elapsed:.2f} s)"
    assert abs(main.guards["during"].requests[0].time - main.upstream.requests[0].time) < 0.4


def test_during_call_block_cancels_the_upstream_call(main):
    main.upstream.queue(delay=3.0)
    main.guards["during"].reply(Reply("BLOCKED", blocked_reason="too slow to wait for", delay=0.2))
    started = time.monotonic()
    with pytest.raises(openai.BadRequestError) as info:
        _chat(main, ["during"])
    elapsed = time.monotonic() - started
    assert info.value.body["message"] == "too slow to wait for"
    assert elapsed < 1.5, f"the block waited for the upstream ({elapsed:.2f} s)"
    assert len(main.upstream.requests) == 1  # it had started
    assert main.upstream.wait_until(lambda: main.upstream.cancelled == 1, timeout=3)
    assert main.upstream.completed == 0


def test_during_call_block_on_a_stream_is_a_json_error(main):
    main.upstream.queue(delay=1.0)
    main.guards["during"].reply(Reply("BLOCKED", blocked_reason="no stream"))
    with pytest.raises(openai.BadRequestError) as info:
        _chat(main, ["during"], stream=True)
    assert info.value.body["message"] == "no stream"
    assert info.value.response.headers["content-type"].startswith("application/json")


def test_during_call_rewrite_cannot_apply(main):
    main.guards["during"].reply(Reply("GUARDRAIL_INTERVENED", texts=["hello [X]"]))
    response = main.post("/v1/chat/completions", {"model": "fake", "messages": HELLO, "guardrails": ["during"],
                                                   "include_guardrail_response": True})
    assert response.status_code == 200, response.text
    assert main.upstream.requests[0].json["messages"] == HELLO
    (record,) = response.json()["guardrail_information"]
    assert record["guardrail_mode"] == "during_call"
    assert record["guardrail_status"] == "guardrail_intervened"
    assert record["guardrail_response"] == "mask_not_applied"


def test_post_call_sees_the_upstream_answer_before_the_client(main):
    main.upstream.queue(content="the answer is alpha")
    main.guards["post"].reply(Reply("GUARDRAIL_INTERVENED", texts=["the answer is [REDACTED]"], delay=0.3))
    started = time.monotonic()
    completion = _chat(main, ["post"])
    assert time.monotonic() - started >= 0.3
    assert main.guards["post"].bodies[0]["texts"] == ["the answer is alpha"]
    assert main.guards["post"].requests[0].time >= main.upstream.requests[0].time
    assert completion.choices[0].message.content == "the answer is [REDACTED]"


def test_pre_and_post_call_make_exactly_one_request_and_one_response_check(main):
    for _ in range(3):
        _chat(main, ["both"])
    assert [b["input_type"] for b in main.guards["both"].bodies] == ["request", "response"] * 3
    call_ids = [b["litellm_call_id"] for b in main.guards["both"].bodies]
    assert call_ids[0] == call_ids[1] != call_ids[2] == call_ids[3]


def test_pre_call_rewrite_is_what_post_call_of_the_same_guardrail_sees_echoed(main):
    main.guards["both"].reply(Reply("GUARDRAIL_INTERVENED", texts=["hello [A]"]),
                              Reply("GUARDRAIL_INTERVENED", texts=["Hello! You said: hello [B]"]))
    completion = _chat(main, ["both"])
    assert main.guards["both"].bodies[1]["texts"] == ["Hello! You said: hello [A]"]
    assert completion.choices[0].message.content == "Hello! You said: hello [B]"


def test_logging_only_checks_after_the_answer_and_never_blocks(main):
    """A logging_only guardrail scans copies of the request and the answer to record a verdict."""
    main.guards["audit"].default = Reply("BLOCKED", blocked_reason="would have blocked")
    completion = _chat(main, ["audit"])
    assert completion.choices[0].message.content == "Hello! You said: hello alpha"
    assert main.guards["audit"].wait_until(lambda: main.guards["audit"].count == 2)
    assert [b["input_type"] for b in main.guards["audit"].bodies] == ["request", "response"]
    assert main.guards["audit"].bodies[1]["texts"] == ["Hello! You said: hello alpha"]
    assert main.upstream.requests[0].json["messages"] == HELLO


def test_logging_only_is_not_run_unless_named(main):
    _chat(main, ["pre2"])
    time.sleep(0.3)
    assert main.guards["audit"].count == 0
