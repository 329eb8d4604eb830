"""``async_moderation_hook``: concurrent with the upstream call, on every endpoint;
a block answers at once and cancels the upstream request."""

from __future__ import annotations

import time

import openai
import pytest
from policy_support import CALL_TYPES, ENDPOINTS, call_endpoint, chat_body, new_id, post, with_id

BLOCK_MESSAGE = "Violated content safety policy"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_runs_on_every_endpoint_with_its_call_type(client, events, endpoint):
    call_id = new_id()
    call_endpoint(client, endpoint, "plain text", call_id)
    runs = events.of(call_id, "moderation")
    assert sorted((e["who"], e["call_type"]) for e in runs) == [
        ("first", CALL_TYPES[endpoint]), ("second", CALL_TYPES[endpoint])]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_block_is_the_clients_error_on_every_endpoint(client, endpoint):
    with pytest.raises(openai.BadRequestError) as err:
        call_endpoint(client, endpoint, "second:mod-block", new_id())
    assert err.value.status_code == 400
    assert err.value.body["message"] == BLOCK_MESSAGE


def test_runs_while_the_upstream_call_is_in_flight(client, events, fake_upstream):
    call_id = new_id()
    reply = client.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "first:mod-slowpass"}], extra_headers=with_id(call_id),
        extra_body={"fake_upstream": {"delay": 0.3}})
    assert reply.choices[0].message.content == "Hello! You said: first:mod-slowpass"
    moderation = events.of(call_id, "moderation", "first")[0]
    upstream_received = fake_upstream.requests[0].time
    # The upstream had the request before the (0.3 s) moderation hook finished.
    assert moderation["started"] - 0.05 <= upstream_received < moderation["ended"]


def test_a_block_answers_at_once_and_cancels_the_upstream_call(client, events, fake_upstream):
    call_id = new_id()
    started = time.monotonic()
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="fake", messages=[{"role": "user", "content": "first:mod-block"}], extra_headers=with_id(call_id),
            extra_body={"fake_upstream": {"delay": 3}})
    elapsed = time.monotonic() - started
    assert err.value.body["message"] == BLOCK_MESSAGE
    assert elapsed < 1.5
    assert fake_upstream.wait_until(lambda: fake_upstream.cancelled == 1, timeout=3)
    assert fake_upstream.completed == 0
    # The failure hooks saw the block.
    failures = events.of(call_id, "failure")
    assert [f["who"] for f in failures] == ["first", "second"]
    assert failures[0]["status"] == 400


def test_a_block_on_a_stream_is_a_json_error_not_sse(client, main_gw, fake_upstream):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="fake", messages=[{"role": "user", "content": "first:mod-slowblock"}], stream=True)
    assert err.value.response.headers["content-type"].startswith("application/json")
    assert err.value.body["message"] == BLOCK_MESSAGE
    raw = post(main_gw.api_base, "/chat/completions", chat_body("first:mod-slowblock", stream=True))
    assert raw.status_code == 400
    assert raw.headers["content-type"].startswith("application/json")
    assert "data:" not in raw.text
    assert raw.json()["error"]["message"] == BLOCK_MESSAGE


def test_a_stream_waits_for_moderation_then_flows(client, fake_upstream):
    started = time.monotonic()
    stream = client.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "second:mod-slowpass"}], stream=True)
    chunks = list(stream)
    assert time.monotonic() - started >= 0.3
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello! You said: second:mod-slowpass"


async def test_async_client_gets_the_block(aclient):
    with pytest.raises(openai.BadRequestError) as err:
        await aclient.embeddings.create(model="embed", input="first:mod-block")
    assert err.value.body["message"] == BLOCK_MESSAGE
