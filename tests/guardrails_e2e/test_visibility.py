"""What a guardrail run leaves behind: the response header, the records in the response
and in logging hooks, the metrics.

docs/guardrails.md *Observability*; checklist items 94, 95. The ``main`` gateway loads
``guard_log.recorder``, a CustomLogger whose success and failure logging hooks write what
they receive to ``logged.jsonl``.
"""

from __future__ import annotations

import time

import openai
import pytest

from gatehouse.testing.fake_guardrail import Reply, mask

HELLO = [{"role": "user", "content": "hello secret"}]
RECORD_KEYS = {"guardrail_name", "guardrail_provider", "guardrail_mode", "guardrail_status", "guardrail_response",
               "start_time", "end_time", "duration", "masked_entity_count"}


def _post(gw, guardrails, **extra):
    body = {"model": "fake", "messages": HELLO, "guardrails": guardrails, **extra}
    return gw.post("/v1/chat/completions", body)


def _summary(records) -> list[tuple[str, str, str, str, int]]:
    return [(r["guardrail_name"], r["guardrail_mode"], r["guardrail_status"], r["guardrail_response"],
             r["masked_entity_count"]) for r in records]


def test_header_lists_the_guardrails_that_ran(main):
    raw = main.client().chat.completions.with_raw_response.create(
        model="fake", messages=HELLO, extra_body={"guardrails": ["post", "pre", "both"]})
    assert raw.headers["x-litellm-applied-guardrails"] == "pre,both,post"


def test_header_leaves_out_guardrails_that_gave_no_answer(main):
    raw = main.client().chat.completions.with_raw_response.create(
        model="fake", messages=HELLO, extra_body={"guardrails": ["down_open", "pre2"]})
    assert raw.headers["x-litellm-applied-guardrails"] == "pre2"


def test_no_header_when_no_guardrail_ran(main):
    raw = main.client().chat.completions.with_raw_response.create(model="fake", messages=HELLO)
    assert "x-litellm-applied-guardrails" not in raw.headers


def test_guardrail_information_in_the_response_and_in_logging_hooks(main):
    main.guards["both"].default = mask("secret")
    started = time.time()
    response = _post(main, ["pre", "down_open", "both", "post"], include_guardrail_response=True)
    finished = time.time()
    assert response.status_code == 200, response.text
    records = response.json()["guardrail_information"]
    assert _summary(records) == [
        # config order: pre, post (top level), both, ..., down_open (litellm_settings)
        ("pre", "pre_call", "success", "allow", 0),
        ("both", "pre_call", "guardrail_intervened", "mask", 1),
        ("down_open", "pre_call", "guardrail_failed_to_respond", records[2]["guardrail_response"], 0),
        ("post", "post_call", "success", "allow", 0),
        ("both", "post_call", "success", "allow", 0),  # the secret was masked before the call
    ]
    assert records[2]["guardrail_response"].startswith("cannot connect to the guardrail service")
    for record in records:
        assert set(record) == RECORD_KEYS
        assert record["guardrail_provider"] == "generic_guardrail_api"
        assert started <= record["start_time"] <= record["end_time"] <= finished
        assert record["duration"] == pytest.approx(record["end_time"] - record["start_time"], abs=1e-6)
    assert response.json()["choices"][0]["message"]["content"] == "Hello! You said: hello [MASKED]"
    assert response.headers["x-litellm-applied-guardrails"] == "pre,both,post"

    logged = main.logged(response.headers["x-litellm-call-id"])
    assert logged["guardrail_information"] == records
    assert logged["applied_guardrails"] == ["pre", "both", "post"]


def test_no_guardrail_information_unless_asked(main):
    response = _post(main, ["pre"])
    assert response.status_code == 200
    assert "guardrail_information" not in response.json()
    logged = main.logged(response.headers["x-litellm-call-id"])
    assert _summary(logged["guardrail_information"]) == [("pre", "pre_call", "success", "allow", 0)]


def test_a_block_is_recorded_for_the_failure_logging_hook(main):
    main.guards["pre2"].reply(Reply("BLOCKED", blocked_reason="nope"))
    with pytest.raises(openai.BadRequestError) as info:
        main.client().chat.completions.create(model="fake", messages=HELLO, extra_body={"guardrails": ["pre", "pre2"]})
    assert info.value.response.headers["x-litellm-applied-guardrails"] == "pre,pre2"
    logged = main.logged(info.value.response.headers["x-litellm-call-id"], event="failure")
    assert _summary(logged["guardrail_information"]) == [
        ("pre", "pre_call", "success", "allow", 0), ("pre2", "pre_call", "blocked", "block", 0)]


def test_a_stream_gives_one_record_summing_its_checks(main):
    main.upstream.queue(chunks=[f"w{i} " for i in range(12)])
    main.guards["stream1"].default = Reply("NONE", delay=0.02)
    started = time.time()
    with main.stream("/v1/chat/completions", {"model": "fake", "messages": HELLO, "stream": True,
                                              "guardrails": ["stream1"]}) as response:
        assert "guardrail_information" not in response.read().decode()
    call_id = response.headers["x-litellm-call-id"]
    assert response.headers["x-litellm-applied-guardrails"] == "stream1"
    assert main.guards["stream1"].count == 12
    (record,) = main.logged(call_id)["guardrail_information"]
    assert _summary([record]) == [("stream1", "post_call", "success", "allow", 0)]
    assert record["duration"] >= 12 * 0.02
    assert started <= record["start_time"] <= record["end_time"]
    assert record["duration"] <= record["end_time"] - record["start_time"] + 1e-6


def test_metrics_count_every_check_by_outcome(main):
    name = "gatehouse_guardrail_calls_total"
    before = {status: main.metric(name, guardrail="pre2", mode="pre_call", status=status)
              for status in ("success", "blocked", "guardrail_intervened")}
    main.guards["pre2"].reply(Reply("NONE"), Reply("GUARDRAIL_INTERVENED", texts=["x"]), Reply("BLOCKED"))
    for _ in range(2):
        main.client().chat.completions.create(model="fake", messages=HELLO, extra_body={"guardrails": ["pre2"]})
    with pytest.raises(openai.BadRequestError):
        main.client().chat.completions.create(model="fake", messages=HELLO, extra_body={"guardrails": ["pre2"]})
    after = {status: main.metric(name, guardrail="pre2", mode="pre_call", status=status) for status in before}
    assert {s: after[s] - before[s] for s in before} == {"success": 1, "blocked": 1, "guardrail_intervened": 1}
    assert main.metric("gatehouse_guardrail_latency_seconds_count", guardrail="pre2", mode="pre_call") >= 3
