"""``async_post_call_failure_hook``: every failure after authentication, every
endpoint; the first HTTPException returned or raised becomes the client's error."""

from __future__ import annotations

import httpx
import openai
import pytest
from policy_support import (CALL_TYPES, ENDPOINTS, MASTER_KEY, call_endpoint, chat_body, log_lines, new_id, post,
                            sse_events, with_id)


def chat(client, text, call_id, **extra):
    return client.chat.completions.create(model="fake", messages=[{"role": "user", "content": text}],
                                          extra_headers=with_id(call_id), **extra)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_called_on_a_hook_rejection_on_every_endpoint(client, events, endpoint):
    call_id = new_id()
    with pytest.raises(openai.InternalServerError):
        call_endpoint(client, endpoint, "second:raise-value", call_id)
    failures = events.of(call_id, "failure")
    assert [f["who"] for f in failures] == ["first", "second"]
    for failure in failures:
        assert failure["call_type"] == CALL_TYPES[endpoint]
        assert failure["exc"] == "boom" and failure["exc_type"] == "ValueError"
        assert "ValueError: boom" in failure["traceback"]
        assert failure["auth_type"] == "UserAPIKeyAuth"
        assert failure["has_logging_obj"] is False


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_replacement_is_honoured_on_every_endpoint(client, endpoint):
    with pytest.raises(openai.BadRequestError) as err:
        call_endpoint(client, endpoint, "first:raise-value second:fail-return", new_id())
    assert err.value.body["message"] == "friendly from second"


def test_called_with_an_upstream_error(client, events):
    call_id = new_id()
    error = {"message": "upstream says no", "type": "invalid_request_error", "param": None, "code": None}
    with pytest.raises(openai.BadRequestError) as err:
        chat(client, "plain", call_id, extra_body={"fake_upstream": {"status": 400, "error": error}})
    assert "upstream says no" in err.value.body["message"]
    failures = events.of(call_id, "failure")
    assert [f["who"] for f in failures] == ["first", "second"]
    assert failures[0]["status"] == 400 and "upstream says no" in failures[0]["exc"]


def test_a_returned_http_exception_becomes_the_error(client):
    with pytest.raises(openai.BadRequestError) as err:
        chat(client, "first:raise-value second:fail-return", new_id())
    assert err.value.status_code == 400
    assert err.value.body["message"] == "friendly from second"


def test_the_first_failure_hook_in_order_wins(client, events):
    call_id = new_id()
    with pytest.raises(openai.BadRequestError) as err:
        chat(client, "first:raise-value first:fail-return second:fail-return", call_id)
    assert err.value.body["message"] == "friendly from first"
    assert events.order(call_id, "failure") == ["first", "second"]  # every failure hook still ran


def test_a_raised_http_exception_becomes_the_error(client):
    with pytest.raises(openai.ConflictError) as err:
        chat(client, "first:raise418 first:fail-raise", new_id())
    assert err.value.status_code == 409
    assert err.value.body["message"] == "raised by first"


def test_other_exceptions_from_a_failure_hook_are_logged_and_ignored(client, main_gw, events):
    call_id = new_id()
    with pytest.raises(openai.APIStatusError) as err:
        chat(client, "first:raise418 first:fail-boom", call_id)
    assert err.value.status_code == 418 and err.value.body["message"] == "teapot"
    assert events.order(call_id, "failure") == ["first", "second"]
    lines = log_lines(main_gw, call_id)
    assert any("custom_callbacks.first" in line and "failure hook exploded" in line for line in lines), lines


def test_called_for_a_string_rejection_and_may_replace_it(client, events):
    call_id = new_id()
    reply = chat(client, "first:reject", call_id)
    assert reply.choices[0].message.content == "This is an invalid response"
    assert [f["status"] for f in events.of(call_id, "failure")] == [400, 400]
    with pytest.raises(openai.BadRequestError) as err:
        chat(client, "first:reject second:fail-return", new_id())
    assert err.value.body["message"] == "friendly from second"


def test_called_for_an_error_in_the_middle_of_a_stream(main_gw, events):
    call_id = new_id()
    # chunk_delay: the gateway has relayed the first chunks before the upstream connection dies.
    body = chat_body("first:fail-return", stream=True, fake_upstream={"die_after_chunks": 2, "chunk_delay": 0.05})
    raw = post(main_gw.api_base, "/chat/completions", body, headers=with_id(call_id))
    assert raw.status_code == 200, raw.text
    frames = sse_events(raw)
    assert frames[-1] == "[DONE]"
    errors = [f for f in frames[:-1] if "error" in f]
    assert len(errors) == 1 and frames[-2] is errors[0]
    # The failure hook's HTTPException is what the error event carries.
    assert errors[0]["error"]["message"] == "friendly from first"
    assert errors[0]["error"]["code"] == "400"
    assert events.order(call_id, "failure") == ["first", "second"]


def test_not_called_before_authentication(main_gw, events):
    before = len(events.of(hook="failure"))
    for headers in ({"Authorization": "Bearer sk-wrong"}, {}):
        response = httpx.post(main_gw.api_base + "/chat/completions", json=chat_body("first:fail-return"),
                              headers=headers)
        assert response.status_code == 401
    assert len(events.of(hook="failure")) == before
    assert post(main_gw.api_base, "/chat/completions", chat_body("ok"), key=MASTER_KEY).status_code == 200


async def test_async_client_gets_the_replacement(aclient):
    with pytest.raises(openai.BadRequestError) as err:
        await aclient.embeddings.create(model="embed", input="first:raise-value first:fail-return")
    assert err.value.body["message"] == "friendly from first"
