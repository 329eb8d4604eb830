"""Post-call rules (seed 000): a rule fails a response by its text; the router
retries (3 attempts by default), then HTTP 500 with the rule's message.

The shared gateway has ``post_call_rules: rules.my_rule`` (one string) and
streams ending with an error event; a second gateway has a list of two rules,
``post_call_rules_streaming: hold`` and ``num_retries: 1``.
"""

from __future__ import annotations

import openai
import pytest
from policy_support import (DEFAULT_RULE_MESSAGE, RULE_MESSAGE, RULES_PY, chat_body, hold_rules_config,
                            new_id, post, rule_calls, sse_events, stream_text)

TOOL_CALLS = [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]


def ask(client, text, **extra):
    return client.chat.completions.create(model="fake", messages=[{"role": "user", "content": text}], **extra)


@pytest.fixture
def hold_gw(gateway, fake_upstream):
    return gateway(hold_rules_config(fake_upstream.url), files={"rules.py": RULES_PY})


# -- non-streaming -------------------------------------------------------------------------------

def test_a_passing_rule_gets_the_first_choice_text(client, main_gw, fake_upstream):
    token = new_id()
    reply = ask(client, token)
    assert [c["input"] for c in rule_calls(main_gw, token)] == [f"Hello! You said: {token}"]
    assert reply.choices[0].message.content == f"Hello! You said: {token}"
    assert len(fake_upstream.requests) == 1


def test_a_failing_rule_is_retried_three_times_then_500(client, main_gw, fake_upstream):
    token = new_id()
    with pytest.raises(openai.InternalServerError) as err:
        ask(client, f"rulefail {token}")
    assert err.value.status_code == 500
    assert err.value.body["message"].startswith(RULE_MESSAGE)
    assert err.value.body["type"] == "internal_server_error"
    assert len(fake_upstream.requests) == 3
    assert len(rule_calls(main_gw, token)) == 3


def test_a_rule_returning_false_fails_with_the_default_message(client, fake_upstream):
    with pytest.raises(openai.InternalServerError) as err:
        ask(client, "rulefalse")
    assert err.value.body["message"].startswith(DEFAULT_RULE_MESSAGE)
    assert len(fake_upstream.requests) == 3


def test_a_retry_that_passes_answers_normally(client, fake_upstream):
    fake_upstream.queue(content="rulefail: too short")
    reply = ask(client, "second try")
    assert reply.choices[0].message.content == "Hello! You said: second try"
    assert len(fake_upstream.requests) == 2


def test_rules_do_not_run_on_tool_call_only_responses(client, main_gw, fake_upstream):
    before = len(rule_calls(main_gw))
    reply = ask(client, "rulefail", extra_body={"fake_upstream": {"tool_calls": TOOL_CALLS}})
    assert reply.choices[0].message.tool_calls[0].function.name == "lookup"
    assert len(rule_calls(main_gw)) == before
    assert len(fake_upstream.requests) == 1


@pytest.mark.parametrize("endpoint", ["completions", "embeddings"])
def test_rules_only_run_on_chat(client, main_gw, fake_upstream, endpoint):
    before = len(rule_calls(main_gw))
    if endpoint == "completions":
        assert client.completions.create(model="fake", prompt="rulefail").choices[0].text == "Hello! You said: rulefail"
    else:
        assert client.embeddings.create(model="embed", input="rulefail").data
    assert len(rule_calls(main_gw)) == before
    assert len(fake_upstream.requests) == 1


# -- streams ---------------------------------------------------------------------------------------

def test_a_failing_rule_ends_a_stream_with_an_error_event(main_gw, fake_upstream):
    token = new_id()
    raw = post(main_gw.api_base, "/chat/completions", chat_body(f"rulefail {token}", stream=True))
    assert raw.status_code == 200
    frames = sse_events(raw)
    assert frames[-1] == "[DONE]"
    assert frames[-2]["error"]["message"].startswith(RULE_MESSAGE)
    assert frames[-2]["error"]["code"] == "500"
    assert stream_text(frames[:-2]) == f"Hello! You said: rulefail {token}"  # the chunks went out first
    assert len(fake_upstream.requests) == 1  # a stream already sent is not retried
    assert [c["input"] for c in rule_calls(main_gw, token)] == [f"Hello! You said: rulefail {token}"]


def test_a_passing_stream_is_checked_once_on_the_complete_text(client, main_gw):
    token = new_id()
    chunks = list(ask(client, token, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == f"Hello! You said: {token}"
    assert [c["input"] for c in rule_calls(main_gw, token)] == [f"Hello! You said: {token}"]


# -- a list of rules, held streams, num_retries ------------------------------------------------------

def test_a_list_of_rules_runs_in_order(hold_gw, openai_client):
    token = new_id()
    ask(openai_client(hold_gw), token)
    assert [c["rule"] for c in rule_calls(hold_gw, token)] == ["my_rule", "audit_rule"]


def test_num_retries_sets_the_number_of_attempts(hold_gw, openai_client, fake_upstream):
    token = new_id()
    with pytest.raises(openai.InternalServerError) as err:
        ask(openai_client(hold_gw), f"rulefail {token}")
    assert err.value.body["message"].startswith(RULE_MESSAGE)
    assert len(fake_upstream.requests) == 2  # num_retries: 1
    # The first rule failed each attempt, so the second never ran.
    assert [c["rule"] for c in rule_calls(hold_gw, token)] == ["my_rule", "my_rule"]


def test_a_held_stream_is_retried_and_the_client_gets_the_good_attempt(hold_gw, openai_client, fake_upstream):
    fake_upstream.queue(content="rulefail: too short")
    chunks = list(ask(openai_client(hold_gw), "held", stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello! You said: held"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(fake_upstream.requests) == 2


def test_a_held_stream_that_never_passes_is_a_json_error(hold_gw, fake_upstream):
    raw = post(hold_gw.api_base, "/chat/completions", chat_body("rulefail", stream=True))
    assert raw.status_code == 500
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.json()["error"]["message"].startswith(RULE_MESSAGE)
    assert len(fake_upstream.requests) == 2

