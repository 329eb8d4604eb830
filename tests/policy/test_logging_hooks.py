"""Logging hooks (async and sync twins): LiteLLM's kwargs, in the background —
they never delay a response and their exceptions never fail it."""

from __future__ import annotations

import time

import openai
import pytest
from policy_support import CALL_TYPES, ENDPOINTS, call_endpoint, log_lines, new_id, with_id


def raw_chat(client, text, **extra):
    raw = client.chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": text}], **extra)
    return raw.headers["x-litellm-call-id"], raw.parse()


def test_success_event_kwargs(client, events):
    call_id, reply = raw_chat(client, "log me", user="u-1")
    assert call_id
    for hook in ("log_success", "sync_log_success"):
        for who in ("first", "second"):
            event = events.wait_for(call_id, hook, who=who)[0]
            assert event["model"] == "fake"
            assert event["messages"] == [{"role": "user", "content": "log me"}]
            assert event["stream"] is False
            fields = event["user_api_key_fields"]
            assert fields["user_api_key_hash"] == "litellm_proxy_master_key"
            assert fields["user_api_key_user_id"] == "default_user_id"
            assert fields["user_api_key_end_user_id"] == "u-1"
            assert event["litellm_params_metadata"] is True
            standard = event["standard_logging_object"]
            assert standard["id"] == call_id
            assert standard["status"] == "success"
            assert standard["call_type"] == "completion"
            assert standard["metadata"]["user_api_key_hash"] == "litellm_proxy_master_key"
            assert standard["total_tokens"] == reply.usage.total_tokens
            assert event["response"]["choices"][0]["message"]["content"] == reply.choices[0].message.content
            assert event["start_type"] == event["end_type"] == "datetime"
            assert event["in_order"] is True
    sync = events.of(call_id, "sync_log_success", "first")[0]
    assert sync["thread"] != "MainThread"  # sync twins never block the event loop


def test_pre_api_call_event(client, events):
    call_id, _ = raw_chat(client, "before the call")
    for hook in ("log_pre_api_call", "sync_log_pre_api_call"):
        event = events.wait_for(call_id, hook, who="first")[0]
        assert event["model"] == "fake"
    assert events.of(call_id, "log_pre_api_call", "first")[0]["messages"] == [
        {"role": "user", "content": "before the call"}]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_success_event_on_every_endpoint(client, events, endpoint):
    call_id = new_id()
    call_endpoint(client, endpoint, "plain", call_id)
    event = events.wait_for(call_id, "log_success", who="first")[0]
    assert event["standard_logging_object"]["call_type"] == CALL_TYPES[endpoint]


def test_failure_event_for_an_upstream_error(client, events):
    call_id = new_id()
    error = {"message": "upstream refused", "type": "invalid_request_error", "param": None, "code": None}
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "x"}],
                                       extra_headers=with_id(call_id),
                                       extra_body={"fake_upstream": {"status": 400, "error": error}})
    for hook in ("log_failure", "sync_log_failure"):
        event = events.wait_for(call_id, hook, who="first")[0]
        assert "upstream refused" in event["exception"]
        standard = event["standard_logging_object"]
        assert standard["status"] == "failure"
        assert "upstream refused" in standard["error_str"]
        assert standard["error_information"]["error_code"] == "400"
    assert events.of(call_id, "log_success") == []


def test_failure_event_for_a_hook_rejection(client, events):
    call_id = new_id()
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "first:raise418"}],
                                       extra_headers=with_id(call_id))
    event = events.wait_for(call_id, "log_failure", who="second")[0]
    assert event["standard_logging_object"]["error_information"]["error_code"] == "418"


def test_stream_event_with_the_assembled_response(client, events):
    call_id = new_id()
    chunks = list(client.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "stream me"}], stream=True,
        extra_headers=with_id(call_id)))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    for hook in ("log_stream", "sync_log_stream", "log_success"):
        event = events.wait_for(call_id, hook, who="first")[0]
        assert event["stream"] is True
        assert event["response"]["choices"][0]["message"]["content"] == text


def test_a_slow_logging_hook_never_delays_the_response(client, events):
    started = time.monotonic()
    call_id, reply = raw_chat(client, "first:slowlog")
    assert time.monotonic() - started < 1.0
    assert reply.choices[0].message.content == "Hello! You said: first:slowlog"
    assert events.of(call_id, "log_success", "first") == []  # still sleeping
    assert events.wait_for(call_id, "log_success", who="first", timeout=5)


def test_a_raising_logging_hook_never_fails_the_response(client, main_gw, events):
    call_id, reply = raw_chat(client, "first:logboom")
    assert reply.choices[0].message.content == "Hello! You said: first:logboom"
    assert events.wait_for(call_id, "log_success", who="second")  # the other callback still logs
    lines = log_lines(main_gw, call_id)
    assert any("custom_callbacks.first.async_log_success_event" in line and "logging hook exploded" in line
               for line in lines), lines
    assert any("custom_callbacks.first.log_success_event" in line for line in log_lines(main_gw, call_id)), lines
    assert client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "next"}])
