"""``DualCache``: the cache hooks receive (LiteLLM's method names and semantics).

Two tiers: an :class:`InMemoryCache` (always) and an optional
:class:`RedisCache` shared by every replica.

- Reads: memory first; on a miss (and unless ``local_only``) Redis, and a
  Redis hit is written back to memory with the time Redis still gives it
  (capped by ``default_in_memory_ttl``). Batch reads send one round trip for
  all memory misses.
- Writes: memory, then Redis unless ``local_only``. A ``ttl`` keyword (seconds)
  applies to both tiers; without it memory uses ``default_in_memory_ttl`` and
  Redis ``default_redis_ttl``.
- Increments: memory, then Redis; the Redis result wins (so a counter holds
  across replicas) and is written back to memory; the memory result is
  returned when Redis fails. A TTL is set when the key has none, or again on
  every increment with ``refresh_ttl=True``.
- Redis errors never reach the caller: they are logged (logger
  ``gatehouse.cache``, once per burst) and read as a miss or are skipped.

The memory tier is a near cache: a value another replica changes in Redis is
seen here once the local copy expires. Counters should be read through
``async_increment_cache(key, 0)``, which always asks Redis.

The sync methods block on Redis; they are for code in worker threads (sync
logging hooks). On the event loop use the ``async_*`` methods.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from .memory import InMemoryCache
from .redis_cache import RedisCache

__all__ = ["DualCache"]

Number = int | float
#: Memory TTL (seconds) when the gateway builds a DualCache with Redis: how
#: long a replica may serve a value another replica has since changed.
NEAR_CACHE_TTL = 60.0


def _min_ttl(*ttls: float | None) -> float | None:
    given = [t for t in ttls if t is not None]
    return min(given) if given else None


class DualCache:
    """Memory tier plus optional Redis tier; see the module docstring."""

    def __init__(
        self,
        in_memory_cache: InMemoryCache | None = None,
        redis_cache: RedisCache | None = None,
        default_in_memory_ttl: float | None = None,
        default_redis_ttl: float | None = None,
    ) -> None:
        self.in_memory_cache = in_memory_cache if in_memory_cache is not None else InMemoryCache()
        self.redis_cache = redis_cache
        self.default_in_memory_ttl = default_in_memory_ttl
        self.default_redis_ttl = default_redis_ttl

    @classmethod
    def from_settings(
        cls,
        *,
        redis_url: str | None = None,
        redis_host: str | None = None,
        redis_port: int | str | None = None,
        redis_password: str | None = None,
        namespace: str | None = None,
    ) -> "DualCache":
        """The gateway's cache: a Redis tier only when a host or URL is given.

        With Redis, the memory tier keeps values for at most
        :data:`NEAR_CACHE_TTL` seconds; without, values live until their own
        TTL (or deletion / eviction).
        """
        if not (redis_url or redis_host):
            return cls()
        port = int(redis_port) if redis_port not in (None, "") else None
        redis_cache = RedisCache(
            host=redis_host, port=port, password=redis_password or None, url=redis_url, namespace=namespace
        )
        return cls(redis_cache=redis_cache, default_in_memory_ttl=NEAR_CACHE_TTL)

    def sibling(self, *, max_size: int = 10_000) -> "DualCache":
        """Another DualCache on the same Redis tier with a memory tier of its own (its own size bound)."""
        return DualCache(InMemoryCache(max_size=max_size), self.redis_cache,
                         default_in_memory_ttl=self.default_in_memory_ttl, default_redis_ttl=self.default_redis_ttl)

    # -- helpers -------------------------------------------------------------------------
    def _ttls(self, kwargs: dict[str, Any]) -> tuple[float | None, float | None]:
        ttl = kwargs.get("ttl")
        return (
            ttl if ttl is not None else self.default_in_memory_ttl,
            ttl if ttl is not None else self.default_redis_ttl,
        )

    def _use_redis(self, local_only: bool) -> RedisCache | None:
        return None if local_only else self.redis_cache

    def _backfill(self, key: str, value: Any, redis_ttl: float | None) -> None:
        ttl = _min_ttl(redis_ttl, self.default_in_memory_ttl)
        self.in_memory_cache.set(key, value, ttl=ttl)

    def _merge(
        self, keys: Sequence[str], local: list[Any], found: list[tuple[Any, float | None]] | None
    ) -> list[Any]:
        """Fill memory misses from a Redis batch answer, back-filling memory."""
        if not found:
            return local
        misses = [i for i, v in enumerate(local) if v is None]
        for i, (value, ttl) in zip(misses, found):
            if value is not None:
                local[i] = value
                self._backfill(keys[i], value, ttl)
        return local

    def _settle_increment(self, key: str, local: Number, remote: Number | None, mem_ttl: float | None) -> Number:
        if remote is None:
            return local
        if remote != local:
            self.in_memory_cache.set(key, remote, ttl=mem_ttl, keep_ttl=True)
        return remote

    # -- sync API ------------------------------------------------------------------------
    def set_cache(self, key: str, value: Any, local_only: bool = False, **kwargs: Any) -> None:
        mem_ttl, redis_ttl = self._ttls(kwargs)
        self.in_memory_cache.set(key, value, ttl=mem_ttl)
        if (redis := self._use_redis(local_only)) is not None:
            redis.set_many([(key, value)], ttl=redis_ttl)

    def get_cache(self, key: str, parent_otel_span: Any = None, local_only: bool = False, **kwargs: Any) -> Any:
        return self.batch_get_cache([key], parent_otel_span, local_only, **kwargs)[0]

    def batch_get_cache(
        self, keys: Sequence[str], parent_otel_span: Any = None, local_only: bool = False, **kwargs: Any
    ) -> list[Any]:
        """Values in the order of ``keys`` (``None`` for misses)."""
        keys = list(keys)
        local = self.in_memory_cache.get_many(keys)
        redis = self._use_redis(local_only)
        misses = [k for k, v in zip(keys, local) if v is None]
        if redis is None or not misses:
            return local
        return self._merge(keys, local, redis.get_many(misses))

    def increment_cache(self, key: str, value: Number, local_only: bool = False, **kwargs: Any) -> Number:
        mem_ttl, redis_ttl = self._ttls(kwargs)
        refresh = bool(kwargs.get("refresh_ttl", False))
        local = self.in_memory_cache.increment(key, value, ttl=mem_ttl, refresh_ttl=refresh)
        redis = self._use_redis(local_only)
        remote = redis.increment(key, value, ttl=redis_ttl, refresh_ttl=refresh) if redis else None
        return self._settle_increment(key, local, remote, mem_ttl)

    def delete_cache(self, key: str) -> None:
        self.in_memory_cache.delete(key)
        if self.redis_cache is not None:
            self.redis_cache.delete(key)

    def flush_cache(self) -> None:
        """Empty memory, and Redis (its namespace, or the whole database without one)."""
        self.in_memory_cache.flush()
        if self.redis_cache is not None:
            self.redis_cache.flush()

    # -- async API -----------------------------------------------------------------------
    async def async_set_cache(self, key: str, value: Any, local_only: bool = False, **kwargs: Any) -> None:
        mem_ttl, redis_ttl = self._ttls(kwargs)
        self.in_memory_cache.set(key, value, ttl=mem_ttl)
        if (redis := self._use_redis(local_only)) is not None:
            await redis.async_set_many([(key, value)], ttl=redis_ttl)

    async def async_get_cache(
        self, key: str, parent_otel_span: Any = None, local_only: bool = False, **kwargs: Any
    ) -> Any:
        value = self.in_memory_cache.get(key)
        if value is not None or (redis := self._use_redis(local_only)) is None:
            return value
        found = await redis.async_get_many([key])
        return self._merge([key], [None], found)[0]

    async def async_batch_get_cache(
        self, keys: Sequence[str], parent_otel_span: Any = None, local_only: bool = False, **kwargs: Any
    ) -> list[Any]:
        """Values in the order of ``keys``: memory first, one Redis round trip for the misses."""
        keys = list(keys)
        local = self.in_memory_cache.get_many(keys)
        redis = self._use_redis(local_only)
        misses = [k for k, v in zip(keys, local) if v is None]
        if redis is None or not misses:
            return local
        return self._merge(keys, local, await redis.async_get_many(misses))

    async def async_increment_cache(
        self,
        key: str,
        value: Number,
        parent_otel_span: Any = None,
        local_only: bool = False,
        refresh_ttl: bool = False,
        **kwargs: Any,
    ) -> Number:
        """The counter's new value: Redis's when Redis answers, else this replica's."""
        mem_ttl, redis_ttl = self._ttls(kwargs)
        local = self.in_memory_cache.increment(key, value, ttl=mem_ttl, refresh_ttl=refresh_ttl)
        redis = self._use_redis(local_only)
        remote = await redis.async_increment(key, value, ttl=redis_ttl, refresh_ttl=refresh_ttl) if redis else None
        return self._settle_increment(key, local, remote, mem_ttl)

    async def async_delete_cache(self, key: str) -> None:
        self.in_memory_cache.delete(key)
        if self.redis_cache is not None:
            await self.redis_cache.async_delete(key)

    async def async_set_cache_pipeline(
        self, cache_list: Iterable[tuple[str, Any]], ttl: float | None = None, **kwargs: Any
    ) -> None:
        """Write many ``(key, value)`` pairs: memory, then one Redis round trip."""
        items = list(cache_list)
        mem_ttl, redis_ttl = self._ttls({"ttl": ttl})
        self.in_memory_cache.set_many(items, ttl=mem_ttl)
        if self.redis_cache is not None and not kwargs.get("local_only", False):
            await self.redis_cache.async_set_many(items, ttl=redis_ttl)

    async def async_get_ttl(self, key: str) -> int | None:
        """Whole seconds the key still lives (Redis's answer first), or ``None``."""
        seconds: float | None = None
        if self.redis_cache is not None:
            seconds = await self.redis_cache.async_get_ttl(key)
        if seconds is None:
            seconds = self.in_memory_cache.ttl(key)
        return None if seconds is None else int(math.ceil(seconds))

    async def async_flush_cache(self) -> None:
        self.in_memory_cache.flush()
        if self.redis_cache is not None:
            await self.redis_cache.async_flush()

    # -- lifecycle -----------------------------------------------------------------------
    async def ping(self) -> bool:
        """True when there is no Redis tier or Redis answers."""
        return True if self.redis_cache is None else await self.redis_cache.async_ping()

    async def close(self) -> None:
        if self.redis_cache is not None:
            await self.redis_cache.close()
