"""The router's limits through the real server: a key's allow-list holds across fallbacks, attempts
are bounded in all, a retry storm is not multiplied, a long retry-after is answered, not waited out."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess

from .conftest import MASTER_KEY, Gw, fake_entry

MESSAGES = [{"role": "user", "content": "a very long prompt"}]
TOO_LONG = {"message": "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.",
            "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}


def served_by(fake_upstream: FakeUpstream) -> list[str]:
    return [r.json["model"] for r in fake_upstream.requests]


@pytest.fixture
def fallbacks(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream) -> Gw:
    config: dict[str, Any] = {
        "model_list": [fake_entry(fake_upstream, "gpt-small", "small-model"),
                       fake_entry(fake_upstream, "gpt-big", "big-model")],
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 2, "backoff_base": 0.001, "disable_cooldowns": True,
                            "context_window_fallbacks": [{"gpt-small": ["gpt-big"]}],
                            "fallbacks": [{"gpt-small": ["gpt-big"]}]},
    }
    return Gw(gateway(config), fake_upstream, MASTER_KEY)


def small_only_client(gw: Gw) -> openai.OpenAI:
    created = gw.post("/key/generate", {"models": ["gpt-small"]})
    assert created.status_code == 200, created.text
    return gw.client(api_key=created.json()["key"])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_context_window_error_does_not_open_a_model_the_key_may_not_use(fallbacks: Gw, fake_upstream: FakeUpstream,
                                                                         stream: bool) -> None:
    client = small_only_client(fallbacks)
    fake_upstream.queue(status=400, error=TOO_LONG)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt-small", messages=MESSAGES, stream=stream)
    assert "maximum context length" in refused.value.message
    assert served_by(fake_upstream) == ["small-model"]


def test_a_retryable_error_does_not_open_a_model_the_key_may_not_use(fallbacks: Gw,
                                                                     fake_upstream: FakeUpstream) -> None:
    client = small_only_client(fallbacks)
    fake_upstream.set_default(status=503)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-small", messages=MESSAGES)
    assert set(served_by(fake_upstream)) == {"small-model"}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_fallback_answer_is_labelled_with_the_group_that_answered(fallbacks: Gw, fake_upstream: FakeUpstream,
                                                                     stream: bool) -> None:
    fake_upstream.queue(status=400, error=TOO_LONG)
    raw = fallbacks.client().chat.completions.with_raw_response.create(model="gpt-small", messages=MESSAGES,
                                                                       stream=stream)
    if stream:
        models = {chunk.model for chunk in raw.parse()}
        assert models == {"gpt-big"}
    else:
        assert raw.parse().model == "gpt-big"
    assert raw.headers["x-litellm-model-group"] == "gpt-big"
    assert served_by(fake_upstream) == ["small-model", "big-model"]


def test_attempts_are_bounded_in_all_fallbacks_included(fallbacks: Gw, fake_upstream: FakeUpstream) -> None:
    """num_retries 2 → 3 upstream requests for one client request, not 3 per group."""
    fake_upstream.set_default(status=503)
    with pytest.raises(openai.InternalServerError):
        fallbacks.client().chat.completions.create(model="gpt-small", messages=MESSAGES)
    assert served_by(fake_upstream) == ["small-model", "small-model", "big-model"]


@pytest.fixture
def storm(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream) -> Gw:
    config: dict[str, Any] = {
        "model_list": [fake_entry(fake_upstream, "storm", "storm-model")],
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 2, "backoff_base": 0.001, "disable_cooldowns": True},
    }
    return Gw(gateway(config), fake_upstream, MASTER_KEY)


async def _storm(gw: Gw, requests: int) -> list[int]:
    async with httpx.AsyncClient(base_url=gw.base_url, headers=gw.auth(), timeout=60,
                                 limits=httpx.Limits(max_connections=requests)) as client:
        body = {"model": "storm", "messages": MESSAGES}
        answers = await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(requests)))
    return [a.status_code for a in answers]


def test_a_429_storm_is_not_multiplied_by_retries(storm: Gw, fake_upstream: FakeUpstream) -> None:
    """50 requests in flight, every answer a (slow) 429: retries are at most ~20 % of them, not 2 × 50."""
    fake_upstream.set_default(status=429, delay=0.5)
    requests = 50
    statuses = asyncio.run(_storm(storm, requests))
    assert statuses == [429] * requests
    sent = len(fake_upstream.requests)
    assert sent <= requests * 1.5, sent  # without the budget: 150


def test_sequential_failures_are_still_retried(storm: Gw, fake_upstream: FakeUpstream) -> None:
    fake_upstream.set_default(status=503)
    for _ in range(5):
        with pytest.raises(openai.InternalServerError):
            storm.client().chat.completions.create(model="storm", messages=MESSAGES)
    assert len(fake_upstream.requests) == 15


def test_a_long_retry_after_is_answered_at_once(storm: Gw, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(status=429, headers={"retry-after": "30"})
    with pytest.raises(openai.RateLimitError) as limited:
        storm.client().chat.completions.create(model="storm", messages=MESSAGES)
    assert limited.value.response.headers["retry-after"] == "30"
    assert len(fake_upstream.requests) == 1
