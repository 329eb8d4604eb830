"""``RedisCache``: the shared tier of :class:`~gatehouse.cache.DualCache`.

Values are stored as JSON (orjson); counters as Redis numbers (which read back
as JSON numbers). Every operation is one round trip (a pipeline, or one Lua
script for increments) and never raises: a Redis error is logged on logger
``gatehouse.cache`` once when Redis goes away (then a reminder at most once a
minute, and once when it answers again), and the operation reads as a miss
(``None``) or is skipped. After an error, Redis is not tried again for
``retry_interval`` seconds, so a dead Redis costs the request path nothing.

The async methods use ``redis.asyncio``; the sync methods (for code running in
worker threads) use a small blocking client, created on first use.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterable, Sequence, TypeVar

import orjson
import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry as SyncRetry

__all__ = ["RedisCache"]

logger = logging.getLogger("gatehouse.cache")

T = TypeVar("T")
Number = int | float
Plan = Callable[[Any], None]  # adds commands to a pipeline
_ERRORS = (RedisError, OSError)
_REMIND_EVERY = 60.0  # seconds between "still unreachable" log lines

# INCRBYFLOAT (works on integer and float counters alike), then set the expiry
# when the key has none (or always, with refresh): one atomic round trip on
# every Redis version.
_INCREMENT_LUA = """
local v = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl > 0 and (ARGV[3] == '1' or redis.call('PTTL', KEYS[1]) < 0) then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return v
"""

def encode(value: Any) -> bytes:
    """JSON bytes for Redis (raises ``TypeError`` for unserialisable values)."""
    return orjson.dumps(value)


def decode(raw: Any) -> Any:
    """A stored value back: JSON when it parses, else the text."""
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _ms(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, int(float(ttl) * 1000))


def _seconds(pttl: Any) -> float | None:
    """Redis PTTL reply → seconds (``None``: no expiry or no key)."""
    return pttl / 1000.0 if isinstance(pttl, int) and pttl >= 0 else None


class _Health:
    """Whether to try Redis now, and logging once per burst of errors."""

    def __init__(self, retry_interval: float, clock: Callable[[], float]) -> None:
        self.retry_interval = retry_interval
        self._clock = clock
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._logged_at = 0.0

    @property
    def up(self) -> bool:
        return self._down_since is None

    def skipping(self) -> bool:
        return self._down_since is not None and self._clock() < self._retry_at

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, ResponseError):  # Redis answered: a data error, not an outage
            logger.warning("Redis cache: command failed: %s", exc)
            return
        now = self._clock()
        self._retry_at = now + self.retry_interval
        if self._down_since is None:
            self._down_since = self._logged_at = now
            logger.warning("Redis cache unavailable (%s); reading as misses until it answers", exc)
        elif now - self._logged_at >= _REMIND_EVERY:
            self._logged_at = now
            logger.warning("Redis cache still unavailable after %.0fs (%s)", now - self._down_since, exc)

    def succeeded(self) -> None:
        if self._down_since is not None:
            logger.info("Redis cache reachable again after %.1fs", self._clock() - self._down_since)
            self._down_since = None


class RedisCache:
    """Redis with JSON values, an optional key ``namespace``, and no exceptions.

    Connect with ``url`` (``redis://[:password@]host:port/db``) or ``host`` /
    ``port`` / ``password``; other keyword arguments go to the redis-py client
    (``db``, ``ssl``, ``username``, ...). Defaults differ from redis-py's to
    suit a cache on the request path: 1 s socket and connect timeouts, one
    immediate retry (redis-py's default backoff makes a dead Redis cost
    seconds per call).
    """

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        password: str | None = None,
        url: str | None = None,
        namespace: str | None = None,
        *,
        retry_interval: float = 1.0,
        **kw: Any,
    ) -> None:
        self.namespace = namespace
        self._url = url
        self._params: dict[str, Any] = {"host": host or "127.0.0.1", "port": int(port or 6379), "password": password}
        self._kw = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0, **kw}
        self._health = _Health(retry_interval, time.monotonic)
        self._async: aredis.Redis | None = None
        self._sync: redis.Redis | None = None
        self._sync_lock = threading.Lock()

    def key(self, key: str) -> str:
        """The Redis key for a cache key (namespace prefix applied)."""
        return f"{self.namespace}:{key}" if self.namespace else key

    @property
    def healthy(self) -> bool:
        """False between a connection error and the next successful command."""
        return self._health.up

    # -- clients ---------------------------------------------------------------
    def _client_kwargs(self, retry: Any) -> dict[str, Any]:
        kw = dict(self._kw)
        kw.setdefault("retry", retry)
        return kw if self._url else {**self._params, **kw}

    def _aclient(self) -> aredis.Redis:
        if self._async is None:
            kw = self._client_kwargs(AsyncRetry(NoBackoff(), 1))
            self._async = aredis.Redis.from_url(self._url, **kw) if self._url else aredis.Redis(**kw)
        return self._async

    def _client(self) -> redis.Redis:
        with self._sync_lock:
            if self._sync is None:
                kw = self._client_kwargs(SyncRetry(NoBackoff(), 1))
                self._sync = redis.Redis.from_url(self._url, **kw) if self._url else redis.Redis(**kw)
            return self._sync

    async def close(self) -> None:
        """Close both clients (idempotent)."""
        client, self._async = self._async, None
        if client is not None:
            await client.aclose()
        with self._sync_lock:
            sync, self._sync = self._sync, None
        if sync is not None:
            sync.close()

    # -- one round trip, sync or async ----------------------------------------------
    async def _arun(self, plan: Plan, parse: Callable[[list[Any]], T], default: T) -> T:
        if self._health.skipping():
            return default
        try:
            pipe = self._aclient().pipeline(transaction=False)
            plan(pipe)
            results = await pipe.execute()
        except _ERRORS as exc:
            self._health.failed(exc)
            return default
        self._health.succeeded()
        return parse(results)

    def _run(self, plan: Plan, parse: Callable[[list[Any]], T], default: T) -> T:
        if self._health.skipping():
            return default
        try:
            pipe = self._client().pipeline(transaction=False)
            plan(pipe)
            results = pipe.execute()
        except _ERRORS as exc:
            self._health.failed(exc)
            return default
        self._health.succeeded()
        return parse(results)

    # -- plans: what each operation sends, and how its answer reads ------------------------
    def _plan_get(self, keys: Sequence[str]) -> Plan:
        names = [self.key(k) for k in keys]

        def plan(pipe: Any) -> None:
            pipe.mget(names)
            for name in names:
                pipe.pttl(name)

        return plan

    @staticmethod
    def _parse_get(results: list[Any]) -> list[tuple[Any, float | None]]:
        return [(decode(raw), _seconds(pttl)) for raw, pttl in zip(results[0], results[1:])]

    def _plan_set(self, items: Sequence[tuple[str, bytes]], ttl: float | None) -> Plan:
        px = _ms(ttl)

        def plan(pipe: Any) -> None:
            for key, raw in items:
                pipe.set(self.key(key), raw, px=px)

        return plan

    def _plan_increment(self, key: str, value: Number, ttl: float | None, refresh_ttl: bool) -> Plan:
        args = [repr(value) if isinstance(value, float) else int(value), _ms(ttl) or 0, "1" if refresh_ttl else "0"]
        return lambda pipe: pipe.eval(_INCREMENT_LUA, 1, self.key(key), *args)

    @staticmethod
    def _parse_number(results: list[Any]) -> Number | None:
        return _number(results[0])

    def _encode_items(self, items: Iterable[tuple[str, Any]]) -> list[tuple[str, bytes]]:
        out = []
        for key, value in items:
            try:
                out.append((key, encode(value)))
            except TypeError as exc:
                logger.warning("Redis cache: value for %r is not JSON-serialisable, kept in memory only: %s", key, exc)
        return out

    # -- async API -----------------------------------------------------------------
    async def async_get_many(self, keys: Sequence[str]) -> list[tuple[Any, float | None]] | None:
        """``(value, seconds to live)`` per key, or ``None`` when Redis failed."""
        if not keys:
            return []
        return await self._arun(self._plan_get(keys), self._parse_get, None)

    async def async_get(self, key: str) -> Any:
        found = await self.async_get_many([key])
        return found[0][0] if found else None

    async def async_set_many(self, items: Iterable[tuple[str, Any]], ttl: float | None = None) -> bool:
        encoded = self._encode_items(items)
        if not encoded:
            return True
        return await self._arun(self._plan_set(encoded, ttl), lambda _: True, False)

    async def async_set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        return await self.async_set_many([(key, value)], ttl)

    async def async_increment(
        self, key: str, value: Number, ttl: float | None = None, refresh_ttl: bool = False
    ) -> Number | None:
        """The new value, or ``None`` when Redis failed."""
        return await self._arun(self._plan_increment(key, value, ttl, refresh_ttl), self._parse_number, None)

    async def async_delete(self, key: str) -> None:
        await self._arun(lambda pipe: pipe.delete(self.key(key)), lambda _: None, None)

    async def async_get_ttl(self, key: str) -> float | None:
        """Seconds to live; ``None`` when the key is absent, has no expiry, or Redis failed."""
        return await self._arun(lambda pipe: pipe.pttl(self.key(key)), lambda r: _seconds(r[0]), None)

    async def async_flush(self) -> None:
        """Delete this namespace's keys (``FLUSHDB`` when there is no namespace)."""
        if self._health.skipping():
            return
        try:
            client = self._aclient()
            if not self.namespace:
                await client.flushdb()
            else:
                batch = [k async for k in client.scan_iter(match=self.key("*"), count=500)]
                for i in range(0, len(batch), 500):
                    await client.delete(*batch[i : i + 500])
        except _ERRORS as exc:
            self._health.failed(exc)

    async def async_ping(self) -> bool:
        """Whether Redis answers now (tried even while errors hold it off)."""
        try:
            ok = bool(await self._aclient().ping())
        except _ERRORS as exc:
            self._health.failed(exc)
            return False
        self._health.succeeded()
        return ok

    # -- sync API (worker threads) -------------------------------------------------------
    def get_many(self, keys: Sequence[str]) -> list[tuple[Any, float | None]] | None:
        if not keys:
            return []
        return self._run(self._plan_get(keys), self._parse_get, None)

    def set_many(self, items: Iterable[tuple[str, Any]], ttl: float | None = None) -> bool:
        encoded = self._encode_items(items)
        if not encoded:
            return True
        return self._run(self._plan_set(encoded, ttl), lambda _: True, False)

    def increment(self, key: str, value: Number, ttl: float | None = None, refresh_ttl: bool = False) -> Number | None:
        return self._run(self._plan_increment(key, value, ttl, refresh_ttl), self._parse_number, None)

    def delete(self, key: str) -> None:
        self._run(lambda pipe: pipe.delete(self.key(key)), lambda _: None, None)

    def flush(self) -> None:
        if self._health.skipping():
            return
        try:
            client = self._client()
            if not self.namespace:
                client.flushdb()
            else:
                batch = list(client.scan_iter(match=self.key("*"), count=500))
                for i in range(0, len(batch), 500):
                    client.delete(*batch[i : i + 500])
        except _ERRORS as exc:
            self._health.failed(exc)


def _number(raw: Any) -> Number | None:
    """An INCRBYFLOAT reply as a number (an int when it has no fraction)."""
    if isinstance(raw, (int, float)):
        return raw
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None
