"""DualCache against a real Redis (127.0.0.1:6379, db GATEHOUSE_TEST_REDIS_DB, default 9).

Every test works in its own key namespace and deletes only that namespace,
so tests running at the same time against the same database do not collide.
"""

from __future__ import annotations

import os

import asyncio
import logging
import socket
import uuid

import orjson
import pytest
import redis

from gatehouse.cache import DualCache, InMemoryCache, RedisCache

REDIS_URL = f"redis://127.0.0.1:6379/{int(os.environ.get('GATEHOUSE_TEST_REDIS_DB', '9'))}"


@pytest.fixture
def namespace() -> str:
    return f"gh-test-cache-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def raw(namespace: str):
    """A plain Redis client to look behind the cache's back."""
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    keys = list(client.scan_iter(match=f"{namespace}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def caches(namespace: str, raw):
    """A factory of DualCaches sharing the namespace; all closed afterwards."""
    made: list[DualCache] = []

    def make(**kw) -> DualCache:
        cache = DualCache(redis_cache=RedisCache(url=REDIS_URL, namespace=namespace), **kw)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.close()


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- InMemoryCache ---------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_ttl_is_per_entry_and_lazy() -> None:
    clock = Clock()
    mem = InMemoryCache(default_ttl=10, clock=clock)
    mem.set("short", 1, ttl=1)
    mem.set("default", 2)
    clock.now += 1.5
    assert mem.get("short") is None
    assert mem.get("default") == 2
    assert mem.ttl("default") == pytest.approx(8.5)
    clock.now += 9
    assert mem.get("default") is None
    assert len(mem) == 0


def test_memory_size_bound_drops_expired_then_oldest() -> None:
    clock = Clock()
    mem = InMemoryCache(max_size=3, clock=clock)
    mem.set("a", 1)
    mem.set("b", 2, ttl=1)
    mem.set("c", 3)
    clock.now += 2
    mem.set("d", 4)  # room made by dropping the expired "b"
    assert mem.get_many(["a", "b", "c", "d"]) == [1, None, 3, 4]
    mem.set("e", 5)  # nothing expired: the oldest written ("a") goes
    assert mem.get_many(["a", "c", "d", "e"]) == [None, 3, 4, 5]
    assert len(mem) == 3


def test_memory_increment_keeps_expiry_unless_refreshed() -> None:
    clock = Clock()
    mem = InMemoryCache(clock=clock)
    assert mem.increment("n", 1, ttl=10) == 1
    clock.now += 5
    assert mem.increment("n", 2, ttl=10) == 3
    assert mem.ttl("n") == pytest.approx(5)
    assert mem.increment("n", 1, ttl=10, refresh_ttl=True) == 4
    assert mem.ttl("n") == pytest.approx(10)
    mem.set("text", "x")
    assert mem.increment("text", 1.5) == 1.5


# -- DualCache with Redis -----------------------------------------------------------------


async def test_redis_hit_backfills_memory(caches, raw, namespace: str) -> None:
    writer, reader = caches(), caches()
    await writer.async_set_cache("k", {"a": [1, 2]}, ttl=30)
    assert orjson.loads(raw.get(f"{namespace}:k")) == {"a": [1, 2]}  # JSON in Redis
    assert reader.in_memory_cache.get("k") is None
    assert await reader.async_get_cache("k") == {"a": [1, 2]}
    assert reader.in_memory_cache.get("k") == {"a": [1, 2]}
    # back-filled with the time Redis still gives the value
    assert 0 < reader.in_memory_cache.ttl("k") <= 30
    raw.delete(f"{namespace}:k")
    assert await reader.async_get_cache("k") == {"a": [1, 2]}  # now served from memory


async def test_backfill_is_capped_by_default_in_memory_ttl(caches) -> None:
    writer, reader = caches(), caches(default_in_memory_ttl=2)
    await writer.async_set_cache("k", "v")  # no expiry in Redis
    assert await reader.async_get_cache("k") == "v"
    assert reader.in_memory_cache.ttl("k") == pytest.approx(2, abs=0.1)


async def test_local_only_never_touches_redis(caches, raw, namespace: str) -> None:
    cache = caches()
    await cache.async_set_cache("local", 1, local_only=True)
    cache.set_cache("local-sync", 1, local_only=True)
    assert await cache.async_increment_cache("count", 5, local_only=True) == 5
    assert cache.increment_cache("count", 1, local_only=True) == 6
    assert raw.keys(f"{namespace}:*") == []
    raw.set(f"{namespace}:remote", b'"only in redis"')
    assert await cache.async_get_cache("remote", local_only=True) is None
    assert cache.get_cache("remote", local_only=True) is None
    assert await cache.async_batch_get_cache(["remote", "local"], local_only=True) == [None, 1]
    assert await cache.async_get_cache("remote") == "only in redis"


async def test_ttl_expiry_in_both_tiers(caches, raw, namespace: str) -> None:
    cache = caches()
    await cache.async_set_cache("brief", "x", ttl=1)
    assert await cache.async_get_ttl("brief") == 1
    assert 0 < raw.pttl(f"{namespace}:brief") <= 1000
    await asyncio.sleep(1.1)
    assert await cache.async_get_cache("brief") is None
    assert not raw.exists(f"{namespace}:brief")


async def test_default_ttls_apply_per_tier(caches, raw, namespace: str) -> None:
    cache = caches(default_in_memory_ttl=5, default_redis_ttl=20)
    await cache.async_set_cache("k", 1)
    assert cache.in_memory_cache.ttl("k") == pytest.approx(5, abs=0.1)
    assert 19_000 < raw.pttl(f"{namespace}:k") <= 20_000


async def test_increments_are_shared_across_instances(caches, raw, namespace: str) -> None:
    a, b = caches(), caches()
    assert await a.async_increment_cache("hits", 1, ttl=60) == 1
    assert await b.async_increment_cache("hits", 1, ttl=60) == 2  # Redis wins over b's local 1
    assert b.in_memory_cache.get("hits") == 2  # and is written back to memory
    assert await a.async_increment_cache("hits", 2.5, ttl=60) == 4.5
    assert b.increment_cache("hits", 1) == 5.5
    assert await a.async_increment_cache("hits", 0) == 5.5  # + 0 reads through
    assert 0 < raw.pttl(f"{namespace}:hits") <= 60_000


async def test_increment_ttl_set_once_unless_refreshed(caches, raw, namespace: str) -> None:
    cache = caches()
    await cache.async_increment_cache("n", 1, ttl=100)
    raw.pexpire(f"{namespace}:n", 50_000)
    await cache.async_increment_cache("n", 1, ttl=100)
    assert raw.pttl(f"{namespace}:n") <= 50_000
    await cache.async_increment_cache("n", 1, ttl=100, refresh_ttl=True)
    assert raw.pttl(f"{namespace}:n") > 90_000


async def test_batch_get_one_round_trip_for_misses(caches, raw, namespace: str) -> None:
    writer, reader = caches(), caches()
    await writer.async_set_cache_pipeline([("a", 1), ("b", {"x": 2}), ("c", "three")], ttl=30)
    reader.in_memory_cache.set("a", "local a")
    assert await reader.async_batch_get_cache(["a", "b", "missing", "c"]) == ["local a", {"x": 2}, None, "three"]
    assert reader.in_memory_cache.get_many(["b", "c"]) == [{"x": 2}, "three"]
    reader.in_memory_cache.flush()
    assert reader.batch_get_cache(["c", "b", "nope"]) == ["three", {"x": 2}, None]
    assert 0 < raw.pttl(f"{namespace}:b") <= 30_000


async def test_sync_methods(caches, raw, namespace: str) -> None:
    cache = caches()
    cache.set_cache("s", [1, "two"], ttl=30)
    assert orjson.loads(raw.get(f"{namespace}:s")) == [1, "two"]
    cache.in_memory_cache.flush()
    assert cache.get_cache("s") == [1, "two"]
    assert cache.increment_cache("c", 3, ttl=30) == 3
    cache.delete_cache("s")
    assert cache.get_cache("s") is None and not raw.exists(f"{namespace}:s")
    await cache.async_set_cache("t", 1)
    await cache.async_delete_cache("t")
    assert await cache.async_get_cache("t") is None


async def test_flush_cache_clears_only_its_namespace(caches, raw, namespace: str) -> None:
    cache = caches()
    raw.set("gh-test-other-namespace-key", b"1", ex=30)
    await cache.async_set_cache("x", 1)
    cache.flush_cache()
    assert await cache.async_get_cache("x") is None
    assert raw.exists("gh-test-other-namespace-key")
    raw.delete("gh-test-other-namespace-key")


async def test_unserialisable_value_stays_in_memory(caches, raw, namespace: str) -> None:
    cache = caches()
    value = object()
    await cache.async_set_cache("obj", value)
    assert await cache.async_get_cache("obj") is value
    assert not raw.exists(f"{namespace}:obj")


# -- Redis unavailable ------------------------------------------------------------------


async def test_redis_down_reads_as_miss_and_never_raises(caplog) -> None:
    cache = DualCache.from_settings(redis_host="127.0.0.1", redis_port=unused_port())
    caplog.set_level(logging.WARNING, logger="gatehouse.cache")
    try:
        assert await cache.async_get_cache("k") is None
        await cache.async_set_cache("k", 1)
        assert await cache.async_get_cache("k") == 1  # memory still works
        assert await cache.async_increment_cache("n", 2) == 2  # memory result
        assert await cache.async_increment_cache("n", 2) == 4
        assert await cache.async_batch_get_cache(["k", "zz"]) == [1, None]
        await cache.async_set_cache_pipeline([("p", 1)])
        await cache.async_delete_cache("p")
        assert await cache.async_get_ttl("k") is not None  # memory's TTL (from_settings: near cache)
        cache.set_cache("s", 1)
        assert cache.get_cache("missing") is None
        assert cache.increment_cache("n", 1) == 5
        cache.flush_cache()
        assert await cache.ping() is False
    finally:
        await cache.close()
    warnings = [r for r in caplog.records if r.name == "gatehouse.cache" and r.levelno >= logging.WARNING]
    assert len(warnings) == 1  # one line per burst, not per call
    assert "unavailable" in warnings[0].getMessage()


async def test_redis_down_is_retried_after_interval() -> None:
    port = unused_port()
    tier = RedisCache(host="127.0.0.1", port=port, retry_interval=0.05)
    try:
        assert await tier.async_get("k") is None
        assert not tier.healthy
        await asyncio.sleep(0.06)
        assert await tier.async_increment("n", 1) is None  # tried again, failed again
    finally:
        await tier.close()


# -- construction ---------------------------------------------------------------------------


async def test_from_settings() -> None:
    local = DualCache.from_settings()
    assert local.redis_cache is None
    assert await local.ping() is True
    with_url = DualCache.from_settings(redis_url=REDIS_URL)
    by_host = DualCache.from_settings(redis_host="127.0.0.1", redis_port="6379", redis_password="")
    try:
        assert with_url.redis_cache is not None and by_host.redis_cache is not None
        assert await with_url.ping() is True
        assert await by_host.ping() is True
        assert with_url.default_in_memory_ttl is not None  # memory is a near cache of Redis
    finally:
        await with_url.close()
        await by_host.close()
