"""The master key in every header SDKs use; what a missing, malformed or wrong key gets."""

from __future__ import annotations

import openai
import pytest

from gatehouse.testing import FakeUpstream

CHAT = "/v1/chat/completions"
BODY = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("header", ["Authorization", "x-api-key", "api-key", "x-litellm-api-key"])
def test_master_key_in_each_header(core, fake_upstream: FakeUpstream, header: str) -> None:
    value = f"Bearer {core.key}" if header == "Authorization" else core.key
    response = core.post(CHAT, BODY, headers={header: value}, auth=False)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Hello! You said: hi"


def test_lowercase_bearer_scheme(core, fake_upstream: FakeUpstream) -> None:
    response = core.post(CHAT, BODY, headers={"Authorization": f"bearer {core.key}"}, auth=False)
    assert response.status_code == 200


def test_no_key(core, expect_error, fake_upstream: FakeUpstream) -> None:
    error = expect_error(core.post(CHAT, BODY, auth=False), 401,
                         message="Authentication Error, No api key passed in.", type="auth_error", param=None)
    assert error == {"message": "Authentication Error, No api key passed in.", "type": "auth_error",
                     "param": None, "code": "401"}
    assert fake_upstream.requests == []


@pytest.mark.parametrize("value", ["{key}", "Token {key}", "Bearer"])
def test_malformed_authorization(core, expect_error, value: str) -> None:
    response = core.post(CHAT, BODY, headers={"Authorization": value.format(key=core.key)}, auth=False)
    expect_error(response, 401, type="auth_error",
                 message="Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.")


def test_wrong_key(core, expect_error, fake_upstream: FakeUpstream) -> None:
    expect_error(core.post(CHAT, BODY, headers={"Authorization": "Bearer sk-wrong"}, auth=False), 401,
                 message="Authentication Error, Invalid proxy server token passed", type="auth_error")
    expect_error(core.post(CHAT, BODY, headers={"x-api-key": "sk-wrong"}, auth=False), 401, type="auth_error")
    assert fake_upstream.requests == []


def test_sdk_raises_authentication_error(core) -> None:
    with core.client(api_key="sk-not-the-master") as client:
        with pytest.raises(openai.AuthenticationError) as info:
            client.chat.completions.create(**BODY)
        with pytest.raises(openai.AuthenticationError):
            client.embeddings.create(model="fake", input="x")
        with pytest.raises(openai.AuthenticationError):
            client.models.list()
    assert info.value.status_code == 401
    assert info.value.body == {"message": "Authentication Error, Invalid proxy server token passed",
                               "type": "auth_error", "param": None, "code": "401"}


def test_auth_comes_before_body_validation(core, expect_error) -> None:
    """Without a key, a broken body still answers 401: nothing is revealed to strangers."""
    response = core.post(CHAT, {"model": "no-such-model"}, auth=False)
    expect_error(response, 401, type="auth_error")


def test_no_master_key_means_open(open_gw) -> None:
    response = open_gw.post(CHAT, {"model": "mock", "messages": [{"role": "user", "content": "hi"}]}, auth=False)
    assert response.status_code == 200
    with open_gw.client(api_key="sk-anything-at-all") as client:
        assert client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "x"}]).choices
        assert [m.id for m in client.models.list().data] == ["mock"]
