"""``async_post_call_success_hook``: non-streaming, in config order; a non-None
return replaces the response; raising is the client's error."""

from __future__ import annotations

import openai
import pytest
from policy_support import CALL_TYPES, ENDPOINTS, call_endpoint, new_id, with_id


def raw_chat(client, text, call_id):
    """The HTTP response itself (to see the exact JSON body)."""
    return client.chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": text}], extra_headers=with_id(call_id)).http_response


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_runs_in_order_on_every_endpoint_with_the_response(client, events, endpoint):
    call_id = new_id()
    call_endpoint(client, endpoint, "plain text", call_id)
    runs = events.of(call_id, "post_call")
    assert [e["who"] for e in runs] == ["first", "second"]
    assert runs[0]["call_type"] == CALL_TYPES[endpoint]
    response = runs[0]["response"]
    assert isinstance(response, dict) and response  # the response, as a dict-like object
    if endpoint == "chat":
        assert response["choices"][0]["message"]["content"] == "Hello! You said: plain text"
    if endpoint == "embeddings":
        assert response["object"] == "list" and len(response["data"]) == 1


def test_a_returned_dict_is_the_body_and_the_next_hook_sees_it(client, events):
    call_id = new_id()
    http = raw_chat(client, "first:post-dict", call_id)
    assert http.status_code == 200
    assert http.json() == {"replaced": True, "by": "first"}
    assert events.of(call_id, "post_call", "second")[0]["response"] == {"replaced": True, "by": "first"}


def test_replacements_chain_attribute_and_item_access(client):
    reply = client.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "first:post-edit second:post-append"}])
    # first sets message.content by attribute; second appends by item access to first's result.
    assert reply.choices[0].message.content == "edited-by-first +second"


def test_the_last_replacement_wins(client):
    http = raw_chat(client, "first:post-edit second:post-dict", new_id())
    assert http.json() == {"replaced": True, "by": "second"}


def test_http_exception_keeps_its_status(client, events):
    call_id = new_id()
    with pytest.raises(openai.UnprocessableEntityError) as err:
        raw_chat(client, "first:post-raise422", call_id)
    assert err.value.status_code == 422
    assert err.value.body == {"message": "post hook blocked", "type": "invalid_request_error", "param": None,
                              "code": "422"}
    assert events.order(call_id, "post_call") == ["first"]  # the second never saw a response
    assert [f["status"] for f in events.of(call_id, "failure")] == [422, 422]


def test_other_exception_is_a_500(client):
    with pytest.raises(openai.InternalServerError) as err:
        raw_chat(client, "second:post-raise-value", new_id())
    assert err.value.body["message"] == "post boom"


def test_not_called_for_streams(client, events):
    call_id = new_id()
    stream = client.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "first:post-dict"}], stream=True,
        extra_headers=with_id(call_id))
    text = "".join(c.choices[0].delta.content or "" for c in stream)
    assert text == "Hello! You said: first:post-dict"
    assert events.of(call_id, "post_call") == []


async def test_async_client_gets_the_replaced_response(aclient):
    reply = await aclient.completions.create(model="fake", prompt="plain", extra_headers=with_id(new_id()))
    assert reply.choices[0].text == "Hello! You said: plain"
    http = await aclient.chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": "second:post-dict"}])
    assert http.http_response.json() == {"replaced": True, "by": "second"}
