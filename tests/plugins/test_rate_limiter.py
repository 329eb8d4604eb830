"""The built-in limiter, driven through its hook methods as the gateway drives it.

Counters live in a DualCache on a real Redis (127.0.0.1:6379, the tests' db); every
test uses its own key namespace and deletes only that.
"""

from __future__ import annotations

import os

import asyncio
import socket
import time
import uuid
from datetime import datetime, timezone

import pytest
import redis

from gatehouse.auth.identity import UserAPIKeyAuth
from gatehouse.cache import DualCache, RedisCache
from gatehouse.errors import RateLimitError
from gatehouse.formats.base import render_error
from gatehouse.formats.openai_common import OPENAI
from gatehouse.views import DictView
from gatehouse.plugins import ParallelRequestLimiter
from gatehouse.plugins.rate_limiter import MARKER, window_from_env

REDIS_URL = f"redis://127.0.0.1:6379/{int(os.environ.get('GATEHOUSE_TEST_REDIS_DB', '9'))}"
KEY = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"


@pytest.fixture
def namespace() -> str:
    return f"gh-test-limiter-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def raw(namespace: str):
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    keys = list(client.scan_iter(match=f"{namespace}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def shared_cache(namespace: str, raw):
    """A factory of DualCaches on the same Redis namespace (one per 'replica')."""
    made: list[DualCache] = []

    def make() -> DualCache:
        cache = DualCache(redis_cache=RedisCache(url=REDIS_URL, namespace=namespace))
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.close()


def auth(**limits) -> UserAPIKeyAuth:
    return UserAPIKeyAuth(api_key=KEY, token=KEY, **limits)


def request(call_id: str | None = None) -> dict:
    return {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "litellm_call_id": call_id or str(uuid.uuid4()),
        "metadata": {"user_api_key_hash": KEY},
    }


def log_kwargs(data: dict) -> dict:
    """What the gateway passes to the logging hooks."""
    return {
        "model": data["model"],
        "litellm_call_id": data["litellm_call_id"],
        "litellm_params": {"metadata": data["metadata"]},
        "metadata": data["metadata"],
    }


async def admit(limiter: ParallelRequestLimiter, user: UserAPIKeyAuth, data: dict | None = None) -> dict:
    data = data if data is not None else request()
    assert await limiter.async_pre_call_hook(user, limiter.cache, data, "completion") is None
    return data


def expected_reset(now: float, window: int) -> str:
    reset = int(now // window) * window + window
    return datetime.fromtimestamp(reset, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- requests per window ------------------------------------------------------------------


async def test_rpm_limit_rejects_with_litellm_message_and_headers(shared_cache) -> None:
    now = 1_700_000_005.5  # window [1699999980, 1700000040)
    limiter = ParallelRequestLimiter(shared_cache(), window_seconds=60, clock=lambda: now)
    user = auth(rpm_limit=1)
    await admit(limiter, user)
    with pytest.raises(RateLimitError) as info:
        await admit(limiter, user)
    err = info.value
    assert err.status == 429 and err.error_type == "throttling_error"
    assert err.message == (
        f"Rate limit exceeded for api_key: {KEY}. Limit type: requests. Current limit: 1, "
        "Remaining: 0. Limit resets at: 2023-11-14 22:14:00 UTC"
    )
    assert err.headers == {"retry-after": "35", "rate_limit_type": "requests", "reset_at": "2023-11-14 22:14:00 UTC"}
    status, body, headers = render_error(OPENAI, err)
    assert status == 429 and headers["retry-after"] == "35"
    assert b'"type":"throttling_error"' in body and b'"code":"429"' in body


async def test_window_resets(shared_cache) -> None:
    limiter = ParallelRequestLimiter(shared_cache(), window_seconds=1)
    user = auth(rpm_limit=1)
    await asyncio.sleep(1 - time.time() % 1 + 0.01)  # start at the beginning of a window
    await admit(limiter, user)
    with pytest.raises(RateLimitError) as info:
        await admit(limiter, user)
    assert info.value.headers["retry-after"] == "1"
    assert info.value.headers["reset_at"] == expected_reset(time.time(), 1)
    await asyncio.sleep(1 - time.time() % 1 + 0.01)
    await admit(limiter, user)


async def test_counter_keys_and_ttl(shared_cache, raw, namespace: str) -> None:
    now = 1_700_000_005.5
    limiter = ParallelRequestLimiter(shared_cache(), window_seconds=60, clock=lambda: now)
    await admit(limiter, auth(rpm_limit=5, tpm_limit=100, max_parallel_requests=3))
    prefix = f"{namespace}:{{api_key:{KEY}}}"
    assert raw.get(f"{prefix}:requests:1699999980") == b"1"
    assert raw.get(f"{prefix}:tokens:1699999980") == b"0"
    assert raw.get(f"{prefix}:max_parallel_requests") == b"1"
    assert 0 < raw.pttl(f"{prefix}:requests:1699999980") <= 60_000


# -- max parallel requests --------------------------------------------------------------------


async def test_max_parallel_one_slot_released_by_success_event(shared_cache, raw, namespace: str) -> None:
    limiter = ParallelRequestLimiter(shared_cache(), window_seconds=60)
    user = auth(max_parallel_requests=1)
    first, second = request(), request()
    results = await asyncio.gather(
        limiter.async_pre_call_hook(user, None, first, "completion"),
        limiter.async_pre_call_hook(user, None, second, "completion"),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, RateLimitError)]
    assert len(errors) == 1 and results.count(None) == 1
    assert "Limit type: max_parallel_requests. Current limit: 1, Remaining: 0." in errors[0].message
    assert errors[0].headers["retry-after"] == "1"
    assert errors[0].headers["rate_limit_type"] == "max_parallel_requests"
    gauge = f"{namespace}:{{api_key:{KEY}}}:max_parallel_requests"
    assert raw.get(gauge) == b"1"  # the rejected acquisition was undone

    holder = first if MARKER in first["metadata"] else second
    with pytest.raises(RateLimitError):
        await admit(limiter, user)
    await limiter.async_log_success_event(log_kwargs(holder), {"usage": {"total_tokens": 3}}, None, None)
    assert raw.get(gauge) == b"0"
    await admit(limiter, user)


async def test_release_happens_exactly_once(shared_cache, raw, namespace: str) -> None:
    limiter = ParallelRequestLimiter(shared_cache(), window_seconds=60)
    data = await admit(limiter, auth(max_parallel_requests=2))
    kwargs = log_kwargs(data)
    await limiter.async_log_success_event(kwargs, None, None, None)
    await limiter.async_log_failure_event(kwargs, None, None, None)
    await limiter.async_log_failure_event(log_kwargs(request(data["litellm_call_id"])), None, None, None)
    assert raw.get(f"{namespace}:{{api_key:{KEY}}}:max_parallel_requests") == b"0"


async def test_release_by_call_id_when_a_hook_replaced_data(shared_cache, raw, namespace: str) -> None:
    limiter = ParallelRequestLimiter(shared_cache(), window_seconds=60)
    data = await admit(limiter, auth(max_parallel_requests=1))
    replaced = {"model": "other", "litellm_call_id": data["litellm_call_id"], "metadata": {}}
    await limiter.async_log_failure_event(log_kwargs(replaced), None, None, None)
    assert raw.get(f"{namespace}:{{api_key:{KEY}}}:max_parallel_requests") == b"0"


async def test_shutdown_gives_back_held_slots(shared_cache, raw, namespace: str) -> None:
    limiter = ParallelRequestLimiter(shared_cache(), window_seconds=60)
    await admit(limiter, auth(max_parallel_requests=5))
    await admit(limiter, auth(max_parallel_requests=5))
    await limiter.shutdown()
    assert raw.get(f"{namespace}:{{api_key:{KEY}}}:max_parallel_requests") == b"0"


# -- tokens per window ---------------------------------------------------------------------------


async def test_tpm_counts_usage_after_the_response(shared_cache) -> None:
    limiter = ParallelRequestLimiter(shared_cache(), window_seconds=60)
    user = auth(tpm_limit=10)
    data = await admit(limiter, user)
    await limiter.async_log_success_event(log_kwargs(data), DictView({"usage": {"total_tokens": 4}}), None, None)
    data = await admit(limiter, user)  # 4 < 10
    await limiter.async_log_success_event(log_kwargs(data), {"usage": {"total_tokens": 6}}, None, None)
    with pytest.raises(RateLimitError) as info:
        await admit(limiter, user)  # 10 >= 10
    assert "Limit type: tokens. Current limit: 10, Remaining: 0." in info.value.message
    assert info.value.headers["rate_limit_type"] == "tokens"


# -- headers --------------------------------------------------------------------------------------


async def test_response_headers(shared_cache) -> None:
    limiter = ParallelRequestLimiter(shared_cache(), window_seconds=60)
    user = auth(rpm_limit=5, tpm_limit=100, max_parallel_requests=2)
    await admit(limiter, user)
    data = await admit(limiter, user)
    headers = await limiter.async_post_call_response_headers_hook(data, user, {"id": "x"})
    assert headers == {
        "x-ratelimit-api_key-remaining-requests": "3",
        "x-ratelimit-api_key-limit-requests": "5",
        "x-ratelimit-api_key-remaining-tokens": "100",
        "x-ratelimit-api_key-limit-tokens": "100",
        "x-ratelimit-api_key-remaining-max_parallel_requests": "0",
        "x-ratelimit-api_key-limit-max_parallel_requests": "2",
        "x-litellm-key-rpm-limit": "5",
        "x-litellm-key-tpm-limit": "100",
    }


async def test_headers_only_for_limits_that_are_set(shared_cache) -> None:
    limiter = ParallelRequestLimiter(shared_cache(), window_seconds=60)
    user = auth(rpm_limit=2)
    data = await admit(limiter, user)
    assert await limiter.async_post_call_response_headers_hook(data, user, None) == {
        "x-ratelimit-api_key-remaining-requests": "1",
        "x-ratelimit-api_key-limit-requests": "2",
        "x-litellm-key-rpm-limit": "2",
    }
    assert await limiter.async_post_call_response_headers_hook(request(), auth(), None) is None


# -- callers without limits ---------------------------------------------------------------------------


async def test_caller_without_limits_costs_nothing(shared_cache, raw, namespace: str) -> None:
    cache = shared_cache()
    limiter = ParallelRequestLimiter(cache, window_seconds=60)
    data = request()
    await admit(limiter, auth(), data)
    await admit(limiter, UserAPIKeyAuth(rpm_limit=1))  # no key at all (no-auth mode)
    assert MARKER not in data["metadata"]
    assert len(cache.in_memory_cache) == 0 and raw.keys(f"{namespace}:*") == []
    await limiter.async_log_success_event(log_kwargs(data), None, None, None)


# -- several replicas, one Redis -------------------------------------------------------------------------


async def test_two_limiters_share_counts_through_redis(shared_cache) -> None:
    a = ParallelRequestLimiter(shared_cache(), window_seconds=60)
    b = ParallelRequestLimiter(shared_cache(), window_seconds=60)
    user = auth(rpm_limit=2, max_parallel_requests=10)
    await admit(a, user)
    await admit(b, user)
    with pytest.raises(RateLimitError):
        await admit(a, user)
    with pytest.raises(RateLimitError):
        await admit(b, user)


async def test_two_limiters_share_the_parallel_gauge(shared_cache) -> None:
    a = ParallelRequestLimiter(shared_cache(), window_seconds=60)
    b = ParallelRequestLimiter(shared_cache(), window_seconds=60)
    user = auth(max_parallel_requests=1)
    held = await admit(a, user)
    with pytest.raises(RateLimitError):
        await admit(b, user)
    await a.async_log_success_event(log_kwargs(held), None, None, None)
    await admit(b, user)


async def test_redis_down_fails_open_to_local_counts() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cache = DualCache.from_settings(redis_host="127.0.0.1", redis_port=port)
    try:
        limiter = ParallelRequestLimiter(cache, window_seconds=60)
        await admit(limiter, auth(rpm_limit=1))
        with pytest.raises(RateLimitError):
            await admit(limiter, auth(rpm_limit=1))
    finally:
        await cache.close()


# -- settings ------------------------------------------------------------------------------------------


def test_window_from_env() -> None:
    assert window_from_env({}) == 60
    assert window_from_env({"LITELLM_RATE_LIMIT_WINDOW_SIZE": "15"}) == 15
    with pytest.raises(ValueError):
        window_from_env({"LITELLM_RATE_LIMIT_WINDOW_SIZE": "soon"})


def test_window_default_reads_env(monkeypatch) -> None:
    monkeypatch.setenv("LITELLM_RATE_LIMIT_WINDOW_SIZE", "7")
    assert ParallelRequestLimiter(DualCache()).window == 7
    monkeypatch.delenv("LITELLM_RATE_LIMIT_WINDOW_SIZE")
    assert ParallelRequestLimiter(DualCache()).window == 60
