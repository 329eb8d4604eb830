"""``async_pre_call_hook`` through the real server, with the official SDK.

Callbacks ``custom_callbacks.first`` (a plain class) and ``custom_callbacks.second``
(hooks inherited from an intermediate base class) are loaded in that order;
markers in the request text switch what they do (see ``policy_support``).
"""

from __future__ import annotations

import json
import time

import openai
import pytest
from policy_support import (CALL_TYPES, ENDPOINTS, MASTER_KEY, REJECTION, call_endpoint, chat_body, log_lines, new_id,
                            post, sse_events, stream_text, with_id)


def chat(client, text, call_id, **extra):
    return client.chat.completions.create(model="fake", messages=[{"role": "user", "content": text}],
                                          extra_headers=with_id(call_id), **extra)


# -- the public API ---------------------------------------------------------------------

def test_public_names_are_importable_from_gatehouse():
    from gatehouse import CustomLogger, DualCache, UserAPIKeyAuth

    assert callable(CustomLogger().async_pre_call_hook)
    cache = DualCache()
    cache.set_cache("k", "v")
    assert cache.get_cache("k") == "v"
    assert UserAPIKeyAuth(api_key="h").api_key == "h"


# -- order, arguments, call types ----------------------------------------------------------

def test_hooks_run_in_config_order_with_identity_and_cache(client, events, fake_upstream):
    call_id = new_id()
    reply = chat(client, "hello there", call_id)
    assert reply.choices[0].message.content == "Hello! You said: hello there"
    pre = events.of(call_id, "pre_call")
    # `second` defines no hook in its own class: the intermediate base's hook is called anyway.
    assert [e["who"] for e in pre] == ["first", "second"]
    for event in pre:
        assert event["call_type"] == "completion"
        assert event["auth_type"] == "UserAPIKeyAuth"
        assert event["api_key"] == "litellm_proxy_master_key"
        assert event["cache_type"] == "DualCache"
        assert event["model"] == "fake"
        assert {"model", "messages", "metadata", "litellm_call_id"} <= set(event["keys"])
    # Both ran before the upstream was called.
    assert len(fake_upstream.requests) == 1
    assert pre[-1]["t"] <= fake_upstream.requests[0].time


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_call_type_per_endpoint(client, events, endpoint):
    call_id = new_id()
    call_endpoint(client, endpoint, "plain text", call_id)
    pre = events.of(call_id, "pre_call")
    assert [(e["who"], e["call_type"]) for e in pre] == [("first", CALL_TYPES[endpoint]), ("second", CALL_TYPES[endpoint])]


# -- return values ------------------------------------------------------------------------------

def test_none_keeps_data_and_in_place_changes_reach_later_hooks_and_upstream(client, events, fake_upstream):
    call_id = new_id()
    reply = chat(client, "first:mutate", call_id)
    sent = fake_upstream.requests[-1].json
    assert sent["messages"][-1]["content"] == "first:mutate mutated-by-first"
    assert events.of(call_id, "pre_call", "second")[0]["text"] == "first:mutate mutated-by-first"
    assert reply.choices[0].message.content == "Hello! You said: first:mutate mutated-by-first"


def test_returned_dict_replaces_data_for_later_hooks_and_upstream(client, events, fake_upstream):
    call_id = new_id()
    chat(client, "first:replace", call_id, max_tokens=7)
    sent = fake_upstream.requests[-1].json
    assert sent["messages"] == [{"role": "user", "content": "replaced-by-first"}]
    assert sent["temperature"] == 0.25
    assert "max_tokens" not in sent  # the new dict replaced the old one wholesale
    assert events.of(call_id, "pre_call", "second")[0]["text"] == "replaced-by-first"


def test_changing_model_reroutes_to_another_group(client, fake_upstream):
    reply = chat(client, "first:reroute", new_id())
    assert fake_upstream.requests[-1].json["model"] == "fake-model-b"
    assert reply.model == "fake-b"


def test_returned_exception_is_raised(client, events):
    call_id = new_id()
    with pytest.raises(openai.InternalServerError) as err:
        chat(client, "first:return-exc", call_id)
    assert err.value.status_code == 500
    assert err.value.body["message"] == "returned boom"
    assert err.value.body["type"] == "internal_server_error"
    assert events.order(call_id, "pre_call") == ["first"]


def test_returned_string_answers_chat_with_that_message(client, events, fake_upstream):
    call_id = new_id()
    reply = chat(client, "first:reject", call_id)
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == REJECTION
    assert reply.choices[0].finish_reason == "stop"
    assert fake_upstream.requests == []
    assert events.order(call_id, "pre_call") == ["first"]  # the chain stopped


def test_returned_string_on_a_stream_is_sse_then_done(client, main_gw, fake_upstream):
    stream = chat(client, "first:reject", new_id(), stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == REJECTION
    assert chunks[-1].choices[0].finish_reason == "stop"
    raw = post(main_gw.api_base, "/chat/completions", chat_body("first:reject", stream=True))
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("text/event-stream")
    frames = sse_events(raw)
    assert frames[-1] == "[DONE]"
    assert stream_text(frames[:-1]) == REJECTION
    assert fake_upstream.requests == []


def test_returned_string_answers_completions_with_a_text_completion(client):
    reply = call_endpoint(client, "completions", "first:reject", new_id())
    assert reply.object == "text_completion"
    assert reply.choices[0].text == REJECTION


@pytest.mark.parametrize("endpoint", ["embeddings", "images", "moderations", "transcriptions"])
def test_returned_string_is_a_400_on_other_endpoints(client, endpoint, fake_upstream):
    with pytest.raises(openai.BadRequestError) as err:
        call_endpoint(client, endpoint, "first:reject", new_id())
    assert err.value.status_code == 400
    assert err.value.body["message"] == REJECTION
    assert fake_upstream.requests == []


async def test_async_client_sees_changes_and_rejections(aclient, fake_upstream):
    reply = await aclient.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "first:mutate"}], extra_headers=with_id(new_id()))
    assert reply.choices[0].message.content.endswith("mutated-by-first")
    stream = await aclient.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "second:reject"}], stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == REJECTION


# -- exceptions -------------------------------------------------------------------------------------

def test_http_exception_with_string_detail_keeps_status_and_message(client, events):
    call_id = new_id()
    with pytest.raises(openai.APIStatusError) as err:
        chat(client, "first:raise418", call_id)
    assert err.value.status_code == 418
    assert err.value.body["message"] == "teapot"
    assert err.value.body["code"] == "418"
    assert events.order(call_id, "pre_call") == ["first"]  # the second hook never ran


def test_http_exception_with_error_dict_uses_the_error_text(client):
    with pytest.raises(openai.PermissionDeniedError) as err:
        chat(client, "first:raise403", new_id())
    assert err.value.status_code == 403
    assert err.value.body["message"] == "forbidden-m"
    assert err.value.body["type"] == "permission_error"


def test_http_exception_with_other_dict_sends_its_json(client):
    with pytest.raises(openai.BadRequestError) as err:
        chat(client, "second:raise-dict", new_id())
    assert json.loads(err.value.body["message"]) == {"reason": "bad", "n": 7}


def test_other_exception_is_a_500_with_its_message(client, events, fake_upstream):
    call_id = new_id()
    with pytest.raises(openai.InternalServerError) as err:
        chat(client, "first:raise-value", call_id)
    assert err.value.body["message"] == "boom"
    assert err.value.body["type"] == "internal_server_error"
    assert events.order(call_id, "pre_call") == ["first"]
    assert fake_upstream.requests == []


# -- the DualCache handed to hooks ------------------------------------------------------------------

def test_cache_set_by_a_hook_is_read_by_a_later_request(client):
    key = new_id()
    chat(client, f"first:cacheset={key}=v1", new_id())
    reply = chat(client, f"second:cacheget={key}", new_id())
    assert reply.choices[0].message.content == "cached=v1"


# -- bad hooks: a clean error, logged with the hook's name, and the server keeps serving ------------

@pytest.mark.parametrize("marker,what", [("first:number", "returned int"), ("first:list", "returned list")])
def test_hook_returning_garbage_is_a_clean_500(client, main_gw, marker, what):
    call_id = new_id()
    with pytest.raises(openai.InternalServerError) as err:
        chat(client, marker, call_id)
    message = err.value.body["message"]
    assert "custom_callbacks.first" in message and "async_pre_call_hook" in message and what in message
    assert any("custom_callbacks.first" in line for line in log_lines(main_gw, call_id))
    assert chat(client, "still serving", new_id()).choices[0].message.content.endswith("still serving")


def test_hook_raising_is_logged_with_its_name(client, main_gw):
    call_id = new_id()
    with pytest.raises(openai.InternalServerError):
        chat(client, "second:raise-value", call_id)
    lines = log_lines(main_gw, call_id)
    assert any("custom_callbacks.second" in line and "ValueError" in line for line in lines), lines


def test_hanging_hook_times_out_cleanly(client, main_gw, fake_upstream):
    call_id = new_id()
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as err:
        chat(client, "first:hang", call_id)
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 1.5
    assert "custom_callbacks.first.async_pre_call_hook timed out" in err.value.body["message"]
    assert any("timed out" in line for line in log_lines(main_gw, call_id))
    assert fake_upstream.requests == []
    assert chat(client, "after the hang", new_id()).choices[0].message.content.endswith("after the hang")


def test_hook_removing_messages_is_a_clean_400(client, main_gw, fake_upstream):
    call_id = new_id()
    with pytest.raises(openai.BadRequestError) as err:
        chat(client, "first:corrupt", call_id)
    assert err.value.body["message"] == "/chat/completions: Missing required parameter: 'messages'."
    assert err.value.body["param"] == "messages"
    assert any("custom_callbacks.first" in line for line in log_lines(main_gw, call_id))
    assert fake_upstream.requests == []
    assert chat(client, "fine again", new_id()).choices[0].message.content.endswith("fine again")


def test_master_key_identity_reaches_the_hooks_with_the_end_user(client, events):
    call_id = new_id()
    chat(client, "who am i", call_id, user="end-user-7")
    pre = events.of(call_id, "pre_call", "first")[0]
    assert pre["api_key"] == "litellm_proxy_master_key"
    assert pre["end_user_id"] == "end-user-7"


def test_a_request_without_a_valid_key_runs_no_hook(main_gw, events):
    before = len(events.all())
    response = post(main_gw.api_base, "/chat/completions", chat_body("first:mutate"), key="sk-wrong")
    assert response.status_code == 401
    assert len(events.all()) == before
    assert MASTER_KEY not in response.text
