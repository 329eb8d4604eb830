"""The router through the real server: deployments, tags, retries, timeouts, fallbacks, dead upstreams.

Deployments of the ``routing`` gateway all point at the fake upstream; the
upstream ``model`` the fake records tells which one served a request.
"""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from gatehouse.testing import FakeUpstream

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "route me"}]


def served_by(fake_upstream: FakeUpstream) -> list[str]:
    return [r.json["model"] for r in fake_upstream.requests]


def chat(routing, model: str, **extra: Any):
    return routing.post(CHAT, {"model": model, "messages": MESSAGES, **extra})


def test_several_deployments_share_a_model_group(routing, fake_upstream: FakeUpstream) -> None:
    for _ in range(24):
        response = chat(routing, "multi")
        assert response.status_code == 200 and response.json()["model"] == "multi"
    used = served_by(fake_upstream)
    assert set(used) == {"multi-a", "multi-b"}
    assert min(used.count("multi-a"), used.count("multi-b")) >= 3


@pytest.mark.parametrize(("extra", "expected"), [
    ({"tags": ["teamA"]}, "tag-a"),
    ({"tags": ["teamB"]}, "tag-b"),
    ({"metadata": {"tags": ["teamA"]}}, "tag-a"),
    ({}, "tag-default"),
    ({"tags": []}, "tag-default"),
    ({"tags": ["teamC"]}, "tag-default"),
    ({"tags": ["teamC", "teamB"]}, "tag-b"),
], ids=["top-level", "teamB", "metadata", "untagged", "empty", "unmatched", "any-match"])
def test_tag_filtering(routing, fake_upstream: FakeUpstream, extra: dict[str, Any], expected: str) -> None:
    for _ in range(4):
        assert chat(routing, "tagged", **extra).status_code == 200
    assert served_by(fake_upstream) == [expected] * 4
    assert all("tags" not in r.json and "metadata" not in r.json for r in fake_upstream.requests)


def test_tags_through_the_sdk(routing, fake_upstream: FakeUpstream) -> None:
    with routing.client() as client:
        client.chat.completions.create(model="tagged", messages=MESSAGES, extra_body={"tags": ["teamB"]})
        client.chat.completions.create(model="tagged", messages=MESSAGES, metadata={"tags": "ignored-not-a-list"})
    assert served_by(fake_upstream) == ["tag-b", "tag-default"]


def test_no_matching_tag_and_no_default_is_401(routing, expect_error, fake_upstream: FakeUpstream) -> None:
    error = expect_error(chat(routing, "strict", tags=["teamC"]), 401)
    assert error["message"] == ('Not allowed to access model due to tags configuration. '
                                'Passed model=strict and tags=["teamC"]')
    assert fake_upstream.requests == []
    assert chat(routing, "strict", tags=["teamA"]).status_code == 200
    assert served_by(fake_upstream) == ["strict-a"]
    with routing.client() as client, pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="strict", messages=MESSAGES, extra_body={"tags": ["nope"]})


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_retryable_errors_are_retried(routing, fake_upstream: FakeUpstream, status: int) -> None:
    fake_upstream.queue(status=status)
    response = chat(routing, "single")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Hello! You said: route me"
    assert served_by(fake_upstream) == ["single-model", "single-model"]


def test_retries_are_bounded(routing, expect_error, fake_upstream: FakeUpstream) -> None:
    for _ in range(3):
        fake_upstream.queue(status=500)
    expect_error(chat(routing, "single"), 500, message="fake upstream error")
    assert len(fake_upstream.requests) == 3  # 1 + num_retries (2)


def test_client_errors_are_not_retried(routing, expect_error, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(status=400, error={"message": "bad temperature", "type": "invalid_request_error",
                                           "param": "temperature", "code": None})
    expect_error(chat(routing, "single"), 400, message="bad temperature", param="temperature")
    assert len(fake_upstream.requests) == 1


def test_a_retry_goes_to_another_deployment(routing, fake_upstream: FakeUpstream) -> None:
    for _ in range(6):
        fake_upstream.reset()
        fake_upstream.queue(status=503)
        assert chat(routing, "multi").status_code == 200
        first, second = served_by(fake_upstream)
        assert first != second


def test_timeouts_are_retried(routing, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(delay=3)
    started = time.monotonic()
    response = chat(routing, "slow")
    assert response.status_code == 200
    assert time.monotonic() - started < 2.0
    assert served_by(fake_upstream) == ["slow-model", "slow-model"]


def test_timeout_after_all_retries_is_504(routing, expect_error, fake_upstream: FakeUpstream) -> None:
    fake_upstream.set_default(delay=3)
    started = time.monotonic()
    expect_error(chat(routing, "slow"), 504)
    assert time.monotonic() - started < 2.5
    assert len(fake_upstream.requests) == 3


def test_fallback_to_another_model_group(routing, fake_upstream: FakeUpstream) -> None:
    """1 + num_retries (2) attempts in all: two in the group, one kept for its fallback group."""
    for _ in range(2):
        fake_upstream.queue(status=500)
    with routing.client() as client:
        raw = client.chat.completions.with_raw_response.create(model="primary", messages=MESSAGES)
    response = raw.parse()
    assert response.choices[0].message.content == "Hello! You said: route me"
    assert served_by(fake_upstream) == ["primary-model"] * 2 + ["backup-model"]
    assert response.model == "backup" and raw.headers["x-litellm-model-group"] == "backup"
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1" and raw.headers["x-litellm-attempted-retries"] == "2"


def test_no_fallback_on_client_errors(routing, expect_error, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(status=400)
    expect_error(chat(routing, "primary"), 400)
    assert served_by(fake_upstream) == ["primary-model"]


def test_upstream_down_is_a_clean_5xx(routing, expect_error, upstream_key: str) -> None:
    started = time.monotonic()
    response = chat(routing, "down")
    assert time.monotonic() - started < 5
    error = expect_error(response, 503, type="internal_server_error")
    assert error["message"].startswith("Upstream unavailable")
    assert "127.0.0.1" not in response.text and "REDACTED" in response.text  # the host, as LiteLLM does
    assert upstream_key not in response.text
    with routing.client() as client, pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="down", messages=MESSAGES, stream=True)
    assert chat(routing, "single").status_code == 200  # still serving
    assert upstream_key not in routing.process.logs()
