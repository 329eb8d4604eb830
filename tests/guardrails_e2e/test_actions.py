"""The three answers and what each does to the request and the response.

docs/guardrails.md *Actions*; checklist items 66–71 (Gatehouse: NONE never rewrites,
count mismatches are a 500 on every side).
"""

from __future__ import annotations

import openai
import pytest

from gatehouse.testing.fake_guardrail import Reply

PRE = {"guardrails": ["pre"]}
POST = {"guardrails": ["post"]}
TWO = [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hello there"}]


def _chat(main, body=PRE, messages=TWO, **kw):
    return main.client().chat.completions.create(model="fake", messages=messages, extra_body=body, **kw)


def _error(info: pytest.ExceptionInfo) -> dict:
    body = info.value.body
    assert isinstance(body, dict), body
    return body


def test_blocked_is_a_400_with_the_reason_and_the_upstream_is_never_called(main):
    main.guards["pre"].reply(Reply("BLOCKED", blocked_reason="No greetings allowed"))
    with pytest.raises(openai.BadRequestError) as info:
        _chat(main)
    assert info.value.status_code == 400
    assert _error(info) == {"message": "No greetings allowed", "type": "invalid_request_error", "param": None,
                            "code": "400"}
    assert info.value.response.headers["x-litellm-call-id"]
    assert main.upstream.requests == []


async def test_blocked_with_the_async_client(main):
    main.guards["pre"].reply(Reply("BLOCKED", blocked_reason="async block"))
    client = main.async_client()
    try:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model="fake", messages=TWO, extra_body=PRE)
    finally:
        await client.close()
    assert _error(info)["message"] == "async block"
    assert main.upstream.requests == []


def test_blocked_without_a_reason_says_content_violates_policy(main):
    main.guards["pre"].reply(Reply("BLOCKED"))
    with pytest.raises(openai.BadRequestError) as info:
        _chat(main)
    assert _error(info)["message"] == "Content violates policy"
    assert main.upstream.requests == []


def test_blocked_before_a_stream_is_a_plain_400(main):
    main.guards["pre"].reply(Reply("BLOCKED", blocked_reason="no stream for you"))
    with pytest.raises(openai.BadRequestError) as info:
        _chat(main, stream=True)
    assert _error(info)["message"] == "no stream for you"
    assert info.value.response.headers["content-type"].startswith("application/json")
    assert main.upstream.requests == []


def test_none_changes_nothing_even_with_texts(main):
    main.guards["pre"].reply(Reply("NONE", texts=["x", "y"]))
    completion = _chat(main)
    assert [m["content"] for m in main.upstream.requests[0].json["messages"]] == ["be nice", "hello there"]
    assert completion.choices[0].message.content == "Hello! You said: hello there"


def test_intervened_replaces_texts_by_position(main):
    main.guards["pre"].reply(Reply("GUARDRAIL_INTERVENED", texts=["be nice", "hello [NAME]"]))
    completion = _chat(main)
    assert main.upstream.requests[0].json["messages"] == [
        {"role": "system", "content": "be nice"}, {"role": "user", "content": "hello [NAME]"}]
    assert completion.choices[0].message.content == "Hello! You said: hello [NAME]"


def test_intervened_without_texts_keeps_the_originals(main):
    main.guards["pre"].reply(Reply("GUARDRAIL_INTERVENED"))
    _chat(main)
    assert [m["content"] for m in main.upstream.requests[0].json["messages"]] == ["be nice", "hello there"]


def test_a_rewrite_that_does_not_fit_is_a_500_and_the_upstream_is_not_called(main):
    main.guards["pre"].reply(Reply("GUARDRAIL_INTERVENED", texts=["only one"]))
    with pytest.raises(openai.InternalServerError) as info:
        _chat(main)
    assert info.value.status_code == 500
    error = _error(info)
    assert error["message"] == ("Guardrail 'pre' returned 1 texts for 2 inputs; "
                                "the request was rejected rather than sent half-rewritten")
    assert error["type"] == "internal_server_error"
    assert main.upstream.requests == []


def test_non_string_texts_are_a_500(main):
    main.guards["pre"].reply(Reply("GUARDRAIL_INTERVENED", texts=["be nice", 42]))
    with pytest.raises(openai.InternalServerError) as info:
        _chat(main)
    assert _error(info)["message"] == "Guardrail 'pre' returned malformed texts; the request was rejected"
    assert main.upstream.requests == []


def test_post_call_block_after_the_upstream_answered(main):
    main.guards["post"].reply(Reply("BLOCKED", blocked_reason="bad answer"))
    with pytest.raises(openai.BadRequestError) as info:
        _chat(main, body=POST)
    assert _error(info)["message"] == "bad answer"
    assert len(main.upstream.requests) == 1


def test_post_call_rewrite_that_does_not_fit_is_a_500(main):
    main.guards["post"].reply(Reply("GUARDRAIL_INTERVENED", texts=["a", "b"]))
    with pytest.raises(openai.InternalServerError) as info:
        _chat(main, body=POST)
    assert _error(info)["message"] == ("Guardrail 'post' returned 2 texts for 1 inputs; "
                                       "the response was rejected rather than sent half-rewritten")
