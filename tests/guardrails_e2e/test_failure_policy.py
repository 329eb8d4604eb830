"""Failure policy: fail closed by default, fail open when configured — never silently.

docs/guardrails.md *Failure policy*; checklist items 77–82. Guardrails of the ``main``
gateway used here (see conftest): ``down``/``down_open``/``down_post``/``down_post_open``
on a closed port; ``flaky`` (fail_open, timeout 0.3 s), ``lenient`` (fail_on_error: false,
timeout 0.3 s), ``strict`` (defaults, timeout 0.3 s), ``retry`` (num_retries 1),
``post_lenient`` (post_call, fail_on_error: false).
"""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from gatehouse.testing.fake_guardrail import PATH, Reply

HELLO = [{"role": "user", "content": "hello"}]
FAIL_OPEN = "gatehouse_guardrail_fail_open_total"
FAILED = "Generic Guardrail API failed: "


def _raw(gw, guardrail: str, **kw):
    return gw.client().chat.completions.with_raw_response.create(
        model="fake", messages=HELLO, extra_body={"guardrails": [guardrail]}, **kw)


def _fails(gw, guardrail: str, error=openai.InternalServerError) -> dict:
    with pytest.raises(error) as info:
        _raw(gw, guardrail)
    body = info.value.body
    assert isinstance(body, dict), body
    return body


def _passes_open(gw, guardrail: str, reason: str, mode: str = "pre_call") -> str:
    """A request that must pass although the guardrail failed; checks log and metric; returns the call id."""
    before = gw.metric(FAIL_OPEN, guardrail=guardrail, reason=reason)
    raw = _raw(gw, guardrail)
    assert raw.parse().choices[0].message.content == "Hello! You said: hello"
    call_id = raw.headers["x-litellm-call-id"]
    assert "x-litellm-applied-guardrails" not in raw.headers  # it gave no answer
    gw.logs_when(f"guardrail '{guardrail}' failed open ({reason}) for call {call_id} in {mode}")
    assert gw.metric(FAIL_OPEN, guardrail=guardrail, reason=reason) == before + 1
    return call_id


# -- unreachable ---------------------------------------------------------------------


def test_service_down_fails_closed_without_revealing_the_host(main):
    error = _fails(main, "down")
    assert error["message"].startswith(FAILED + "cannot connect to the guardrail service"), error
    assert error["type"] == "internal_server_error" and error["code"] == "500"
    assert "127.0.0.1" not in error["message"] and "REDACTED" in error["message"]
    assert main.upstream.requests == []


def test_service_down_with_fail_open_passes_and_says_so(main):
    _passes_open(main, "down_open", "connection_error")
    assert len(main.upstream.requests) == 1


def test_timeout_with_fail_open_passes_quickly(main):
    main.guards["flaky"].reply(Reply("BLOCKED", delay=1.5))
    started = time.monotonic()
    _passes_open(main, "flaky", "timeout")
    assert time.monotonic() - started < 1.2
    assert main.guards["flaky"].count == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_statuses_count_as_unreachable(main, status):
    main.guards["flaky"].reply(Reply(status=status))
    _passes_open(main, "flaky", f"http_{status}")


@pytest.mark.parametrize("status", [400, 500])
def test_other_statuses_still_fail_with_fail_open(main, status):
    main.guards["flaky"].reply(Reply(status=status))
    error = _fails(main, "flaky")
    phrase = "Server error '500 Internal Server Error'" if status == 500 else "Client error '400 Bad Request'"
    assert error["message"].startswith(f"{FAILED}{phrase} for url 'http://REDACTED:"), error
    assert error["message"].endswith(f"{PATH}'")
    assert main.upstream.requests == []


# -- errors of the service -----------------------------------------------------------


def test_timeout_is_honoured(main):
    main.guards["strict"].reply(Reply("NONE", delay=2.0))
    started = time.monotonic()
    error = _fails(main, "strict")
    assert time.monotonic() - started < 1.2
    assert error["message"] == f"{FAILED}no answer within 0.3s (timeout)"


@pytest.mark.parametrize("reply, message", [
    (Reply(raw=b"<html>oops</html>"), "the guardrail service answered with a body that is not JSON"),
    (Reply(json=["NONE"]), "the guardrail service's answer is not a JSON object"),
    (Reply(action=None), "the guardrail service answered with no action"),
    (Reply("MAYBE"), "the guardrail service answered with unknown action 'MAYBE'"),
    (Reply(status=503), "Server error '503 Service Unavailable' for url 'http://REDACTED:"),
])
def test_a_bad_answer_fails_closed_by_default(main, reply, message):
    main.guards["strict"].reply(reply)
    error = _fails(main, "strict")
    assert error["message"].startswith(FAILED + message), error
    assert main.upstream.requests == []


@pytest.mark.parametrize("reply, reason", [
    (Reply(status=500), "http_500"),
    (Reply(status=400), "http_400"),
    (Reply(raw=b"not json"), "invalid_json"),
    (Reply("MAYBE"), "unknown_action"),
    (Reply(action=None), "unknown_action"),
    (Reply("GUARDRAIL_INTERVENED", texts=["a", "b"]), "bad_rewrite"),
    (Reply("NONE", delay=1.0), "timeout"),
])
def test_fail_on_error_false_lets_every_error_pass(main, reply, reason):
    main.guards["lenient"].reply(reply)
    _passes_open(main, "lenient", reason)
    assert main.upstream.requests[0].json["messages"] == HELLO  # nothing half-applied


def test_fail_on_error_false_still_blocks_on_blocked(main):
    main.guards["lenient"].reply(Reply("BLOCKED", blocked_reason="still blocked"))
    error = _fails(main, "lenient", openai.BadRequestError)
    assert error["message"] == "still blocked"
    assert main.upstream.requests == []


# -- retries -------------------------------------------------------------------------


def test_a_dropped_connection_is_retried(main):
    main.guards["retry"].reply(Reply(drop=True), Reply("GUARDRAIL_INTERVENED", texts=["hello again"]))
    raw = _raw(main, "retry")
    assert raw.parse().choices[0].message.content == "Hello! You said: hello again"
    first, second = main.guards["retry"].bodies
    assert first == second


def test_retries_are_limited(main):
    main.guards["retry"].reply(Reply(drop=True), Reply(drop=True), Reply("NONE"))
    error = _fails(main, "retry")
    assert error["message"].startswith(FAILED + "the guardrail service dropped the connection"), error
    assert main.guards["retry"].count == 2


def test_an_http_error_is_not_retried(main):
    main.guards["retry"].reply(Reply(status=500), Reply("NONE"))
    _fails(main, "retry")
    assert main.guards["retry"].count == 1


def test_no_retry_without_num_retries(main):
    main.guards["strict"].reply(Reply(drop=True), Reply("NONE"))
    error = _fails(main, "strict")
    assert error["message"].startswith(FAILED + "the guardrail service dropped the connection"), error
    assert main.guards["strict"].count == 1


# -- streams -------------------------------------------------------------------------


def _stream_payloads(gw, guardrail: str) -> tuple[httpx.Response, list[str]]:
    body = {"model": "fake", "messages": HELLO, "stream": True, "guardrails": [guardrail]}
    with gw.stream("/v1/chat/completions", body) as response:
        raw = response.read().decode()
    if response.status_code != 200:
        assert response.headers["content-type"].startswith("application/json")
        return response, [raw]
    payloads = [e.strip()[len("data: "):] for e in raw.split("\n\n") if e.strip()]
    return response, payloads


def _stream_text(payloads: list[str]) -> str:
    text = ""
    for payload in payloads:
        if payload != "[DONE]" and "choices" in (chunk := json.loads(payload)):
            text += "".join((c.get("delta") or {}).get("content") or "" for c in chunk["choices"])
    return text


def test_stream_with_the_service_down_fails_before_the_first_byte(main):
    response, payloads = _stream_payloads(main, "down_post")
    assert response.status_code == 500
    assert json.loads(payloads[0])["error"]["message"].startswith(FAILED)


def test_stream_with_the_service_down_and_fail_open_is_released_unchecked(main):
    main.upstream.queue(chunks=[f"w{i} " for i in range(12)])
    before = main.metric(FAIL_OPEN, guardrail="down_post_open", reason="connection_error")
    response, payloads = _stream_payloads(main, "down_post_open")
    assert response.status_code == 200
    assert _stream_text(payloads) == "".join(f"w{i} " for i in range(12))
    assert payloads[-1] == "[DONE]"
    call_id = response.headers["x-litellm-call-id"]
    main.logs_when(f"guardrail 'down_post_open' failed open (connection_error) for call {call_id} in post_call")
    assert main.metric(FAIL_OPEN, guardrail="down_post_open", reason="connection_error") >= before + 1


def test_stream_fail_closed_mid_stream_ends_with_a_500_error_event(main):
    main.upstream.queue(chunks=[f"w{i} " for i in range(12)])
    main.guards["post"].reply(Reply("NONE"), Reply(status=500))
    response, payloads = _stream_payloads(main, "post")
    assert response.status_code == 200
    assert _stream_text(payloads) == "w0 w1 w2 w3 "  # the first window only
    error = json.loads(payloads[-2])["error"]
    assert error["code"] == "500" and error["type"] == "internal_server_error"
    assert error["message"].startswith(FAILED + "Server error '500 Internal Server Error'")
    assert payloads[-1] == "[DONE]"


def test_stream_fail_open_mid_stream_keeps_going(main):
    main.upstream.queue(chunks=[f"w{i} " for i in range(12)])
    main.guards["post_lenient"].reply(Reply("NONE"), Reply(raw=b"garbage"))
    response, payloads = _stream_payloads(main, "post_lenient")
    assert response.status_code == 200
    assert _stream_text(payloads) == "".join(f"w{i} " for i in range(12))
    assert main.guards["post_lenient"].count == 3
    main.logs_when(f"guardrail 'post_lenient' failed open (invalid_json) for call "
                   f"{response.headers['x-litellm-call-id']} in post_call")


def test_post_call_fail_closed_non_stream(main):
    error = _fails(main, "down_post")
    assert error["message"].startswith(FAILED)
    assert len(main.upstream.requests) == 1


# -- and the gateway keeps serving ---------------------------------------------------


def test_the_gateway_keeps_serving_after_guardrail_failures(main):
    for name in ("down", "strict"):
        main.guards["strict"].reply(Reply(raw=b"x"))
        _fails(main, name)
    assert main.process.running
    assert httpx.get(main.base_url + "/health/readiness", timeout=10).status_code == 200
    completion = main.client().chat.completions.create(model="fake", messages=HELLO)
    assert completion.choices[0].message.content == "Hello! You said: hello"
    assert "Traceback" not in main.process.logs()
