"""``general_settings.enforce_user_param``: every LLM call must carry a top-level ``user``.

This gateway also loads its one callback from a single string
(``callbacks: custom_callbacks.proxy_handler_instance``), as the seed writes it.
"""

from __future__ import annotations

import httpx
import openai
import pytest
from policy_support import (CALLBACKS_PY, ENDPOINTS, MASTER_KEY, Events, call_endpoint, chat_body, new_id, post,
                            standard_models, with_id)

MESSAGE = "Authentication Error, 'user' param not passed in. 'enforce_user_param'=True"
ERROR = {"message": MESSAGE, "type": "auth_error", "param": None, "code": "401"}


@pytest.fixture
def enforce_gw(gateway, fake_upstream):
    config = {
        "model_list": standard_models(fake_upstream.url),
        "litellm_settings": {"callbacks": "custom_callbacks.proxy_handler_instance"},
        "general_settings": {"master_key": MASTER_KEY, "enforce_user_param": True},
    }
    files = {"custom_callbacks.py": CALLBACKS_PY + "\nproxy_handler_instance = PolicyHandler('solo')\n"}
    return gateway(config, files=files)


@pytest.fixture
def enforce_events(enforce_gw):
    return Events(enforce_gw.dir / "events.jsonl")


@pytest.fixture
def enforce_client(enforce_gw, openai_client):
    return openai_client(enforce_gw, api_key=MASTER_KEY)


def test_chat_without_user_is_refused_even_for_the_master_key(enforce_client, enforce_events, fake_upstream):
    call_id = new_id()
    with pytest.raises(openai.AuthenticationError) as err:
        enforce_client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}],
                                               extra_headers=with_id(call_id))
    assert err.value.status_code == 401
    assert err.value.body == ERROR
    assert enforce_events.of(call_id, "pre_call") == []
    assert fake_upstream.requests == []


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_llm_endpoint_is_checked(enforce_client, endpoint):
    with pytest.raises(openai.AuthenticationError) as err:
        call_endpoint(enforce_client, endpoint, "no user here", new_id())
    assert err.value.body == ERROR


def test_a_user_passes_and_the_single_string_callback_runs(enforce_client, enforce_events, fake_upstream):
    call_id = new_id()
    reply = enforce_client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}],
                                                   user="ishaan-app", extra_headers=with_id(call_id))
    assert reply.choices[0].message.content == "Hello! You said: hi"
    pre = enforce_events.of(call_id, "pre_call")
    assert [(e["who"], e["end_user_id"]) for e in pre] == [("solo", "ishaan-app")]
    assert fake_upstream.requests[0].json["user"] == "ishaan-app"


def test_user_null_passes(enforce_gw):
    response = post(enforce_gw.api_base, "/chat/completions", chat_body("hi", user=None))
    assert response.status_code == 200, response.text


def test_user_in_metadata_does_not_count(enforce_gw):
    response = post(enforce_gw.api_base, "/chat/completions", chat_body("hi", metadata={"user": "u"}))
    assert response.status_code == 401
    assert response.json() == {"error": ERROR}


def test_streams_are_refused_with_a_json_error(enforce_gw):
    response = post(enforce_gw.api_base, "/chat/completions", chat_body("hi", stream=True))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")


def test_virtual_keys_are_checked_too(enforce_gw):
    generated = post(enforce_gw.base_url, "/key/generate", {})
    assert generated.status_code == 200, generated.text
    key = generated.json()["key"]
    assert post(enforce_gw.api_base, "/chat/completions", chat_body("hi"), key=key).json() == {"error": ERROR}
    assert post(enforce_gw.api_base, "/chat/completions", chat_body("hi", user="u"), key=key).status_code == 200


def test_listing_models_is_not_checked(enforce_gw):
    response = httpx.get(enforce_gw.api_base + "/models", headers={"Authorization": f"Bearer {MASTER_KEY}"})
    assert response.status_code == 200
    assert "fake" in [m["id"] for m in response.json()["data"]]
