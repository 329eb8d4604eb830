"""The response cache keeps keys apart, bounds what a client asks for, and cannot evict rate limits."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Callable

import aiohttp
import openai
import pytest
import redis

from gatehouse.testing import FakeUpstream, GatewayProcess, upstream_model_config

MASTER = "sk-cache-scope-master"


def cache_config(url: str, **cache_params: Any) -> dict[str, Any]:
    return {
        "model_list": [upstream_model_config(url, model_name="fake")],
        "general_settings": {"master_key": MASTER},
        "litellm_settings": {"cache": True, "cache_params": {"ttl": 600, **cache_params}},
    }


def new_key(gw: GatewayProcess, **fields: Any) -> str:
    client = openai.OpenAI(base_url=gw.base_url, api_key=MASTER, max_retries=0, timeout=30)
    created = client.post("/key/generate", body=fields, cast_to=dict)
    return str(created["key"])


def ask(gw: GatewayProcess, key: str, text: str, **extra: Any) -> tuple[str, str]:
    client = openai.OpenAI(base_url=gw.api_base, api_key=key, max_retries=0, timeout=30)
    raw = client.chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": text}], **extra)
    return raw.headers["x-gatehouse-cache"], raw.headers["x-litellm-cache-key"]


def test_a_key_never_reads_another_keys_answers(gateway: Callable[..., GatewayProcess],
                                                fake_upstream: FakeUpstream) -> None:
    gw = gateway(cache_config(fake_upstream.url))
    alice, bob, text = new_key(gw), new_key(gw), f"secret plans {uuid.uuid4()}"
    assert ask(gw, alice, text)[0] == "miss, stored"
    bob_status, bob_key = ask(gw, bob, text)
    assert bob_status == "miss, stored", "bob must not learn that alice sent this prompt"
    alice_status, alice_key = ask(gw, alice, text)
    assert alice_status == "hit" and alice_key != bob_key
    assert len(fake_upstream.requests) == 2


def test_team_scope_shares_within_a_team_only(gateway: Callable[..., GatewayProcess],
                                              fake_upstream: FakeUpstream) -> None:
    gw = gateway(cache_config(fake_upstream.url, scope="team"))
    red1, red2, blue = new_key(gw, team_id="red"), new_key(gw, team_id="red"), new_key(gw, team_id="blue")
    text = f"team {uuid.uuid4()}"
    ask(gw, red1, text)
    assert ask(gw, red2, text)[0] == "hit"
    assert ask(gw, blue, text)[0] == "miss, stored"


def test_global_scope_shares_between_everyone(gateway: Callable[..., GatewayProcess],
                                              fake_upstream: FakeUpstream) -> None:
    gw = gateway(cache_config(fake_upstream.url, scope="global"))
    text = f"global {uuid.uuid4()}"
    ask(gw, new_key(gw), text)
    assert ask(gw, new_key(gw), text)[0] == "hit"


def test_a_clients_ttl_is_capped(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream,
                                 redis_url: str) -> None:
    config = cache_config(fake_upstream.url, max_ttl=900)
    config["router_settings"] = {"redis_url": redis_url}
    gw = gateway(config)
    _, entry = ask(gw, MASTER, f"forever {uuid.uuid4()}", extra_body={"cache": {"ttl": 10**12}})
    client = redis.Redis.from_url(redis_url)
    try:
        lifetime = client.pttl(entry) / 1000
    finally:
        client.close()
    assert 0 < lifetime <= 900
    _, short = ask(gw, MASTER, f"short {uuid.uuid4()}", extra_body={"cache": {"ttl": 30}})
    client = redis.Redis.from_url(redis_url)
    try:
        assert 0 < client.pttl(short) / 1000 <= 30
    finally:
        client.close()


# -- item 9: cached answers cannot evict rate-limit counters (no Redis) ------------------------------------

WINDOW = 86_400


async def _flood(base_url: str, count: int) -> None:
    """``count`` distinct cacheable requests (embeddings), 16 at a time."""
    async with aiohttp.ClientSession(base_url, headers={"Authorization": f"Bearer {MASTER}"}) as session:
        async def worker(start: int) -> None:
            for i in range(start, count, 16):
                async with session.post("/v1/embeddings", json={"model": "mock", "input": f"flood {i}"}) as r:
                    assert r.status == 200, await r.text()
                    await r.read()

        await asyncio.gather(*(worker(s) for s in range(16)))


def test_a_flood_of_cacheable_requests_does_not_reset_a_keys_rate_limit(
        gateway: Callable[..., GatewayProcess]) -> None:
    config = {"model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/anything"}}],
              "general_settings": {"master_key": MASTER},
              "litellm_settings": {"cache": True, "cache_params": {"supported_call_types": ["aembedding"]}}}
    gw = gateway(config, env={"LITELLM_RATE_LIMIT_WINDOW_SIZE": str(WINDOW)})
    left = WINDOW - time.time() % WINDOW
    if left < 120:  # never straddle a window boundary: a new window resets the count by design
        time.sleep(left + 1)
    limited = openai.OpenAI(base_url=gw.api_base, api_key=new_key(gw, rpm_limit=2), max_retries=0, timeout=30)
    for _ in range(2):
        limited.embeddings.create(model="mock", input="mine")
    with pytest.raises(openai.RateLimitError):
        limited.embeddings.create(model="mock", input="mine")
    asyncio.run(_flood(gw.base_url, 10_500))
    with pytest.raises(openai.RateLimitError):
        limited.embeddings.create(model="mock", input="mine again")
