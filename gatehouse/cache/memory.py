"""``InMemoryCache``: the process-local tier of :class:`~gatehouse.cache.DualCache`.

A bounded dict with a time-to-live per entry. Expiry is lazy (an expired
entry is dropped when it is read, or when room is needed); the size bound
evicts expired entries first, then the oldest written. Values are stored as
given (no serialisation). Safe to call from the event loop and from worker
threads (one lock; every operation is O(1) except an eviction sweep).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterable

__all__ = ["InMemoryCache"]

Number = int | float
_SWEEP_INTERVAL = 1.0  # seconds between full expiry sweeps when the cache is full


class InMemoryCache:
    """Key → value with an optional TTL per entry, at most ``max_size`` entries.

    ``default_ttl`` (seconds) applies when a write names no ``ttl``; ``None``
    keeps entries until they are deleted or evicted. ``clock`` is a monotonic
    clock in seconds (tests may pass their own).
    """

    def __init__(
        self,
        max_size: int = 10_000,
        default_ttl: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self.default_ttl = default_ttl
        self._clock = clock
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._data)

    # -- reads -----------------------------------------------------------------
    def get(self, key: str) -> Any:
        """The value, or ``None`` when absent or expired."""
        with self._lock:
            return self._live(key, self._clock())[0]

    def get_many(self, keys: Iterable[str]) -> list[Any]:
        """Values in the order of ``keys`` (``None`` for misses)."""
        with self._lock:
            now = self._clock()
            return [self._live(k, now)[0] for k in keys]

    def ttl(self, key: str) -> float | None:
        """Seconds the entry still lives; ``None`` when absent or without expiry."""
        with self._lock:
            now = self._clock()
            value, expires = self._live(key, now)
            if value is None or expires is None:
                return None
            return max(0.0, expires - now)

    # -- writes ----------------------------------------------------------------
    def set(self, key: str, value: Any, ttl: float | None = None, *, keep_ttl: bool = False) -> None:
        """Store ``value``; ``ttl`` seconds (else ``default_ttl``; ``None``: no expiry).

        With ``keep_ttl``, a live entry keeps its expiry (``ttl`` applies only
        when the key is new or expired).
        """
        with self._lock:
            now = self._clock()
            current, expires = self._live(key, now)
            if not (keep_ttl and current is not None):
                expires = self._expiry(ttl, now)
            self._store(key, value, expires, now)

    def set_many(self, items: Iterable[tuple[str, Any]], ttl: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            expires = self._expiry(ttl, now)
            for key, value in items:
                self._store(key, value, expires, now)

    def increment(self, key: str, value: Number, ttl: float | None = None, refresh_ttl: bool = False) -> Number:
        """Add ``value`` to the number at ``key`` (absent or expired counts as 0).

        A new entry gets ``ttl`` (else ``default_ttl``). An existing entry keeps
        its expiry, unless it has none or ``refresh_ttl`` is true and a TTL is
        given. A non-numeric value is replaced. Returns the new value.
        """
        with self._lock:
            now = self._clock()
            current, expires = self._live(key, now)
            if not isinstance(current, (int, float)) or isinstance(current, bool):
                current, expires = 0, None
            if expires is None or (refresh_ttl and ttl is not None):
                expires = self._expiry(ttl, now)
            result = current + value
            self._store(key, result, expires, now)
            return result

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def flush(self) -> None:
        with self._lock:
            self._data.clear()

    # -- internals (caller holds the lock) ---------------------------------------
    def _expiry(self, ttl: float | None, now: float) -> float | None:
        ttl = self.default_ttl if ttl is None else ttl
        return None if ttl is None else now + float(ttl)

    def _live(self, key: str, now: float) -> tuple[Any, float | None]:
        entry = self._data.get(key)
        if entry is None:
            return None, None
        if entry[1] is not None and entry[1] <= now:
            del self._data[key]
            return None, None
        return entry

    def _store(self, key: str, value: Any, expires: float | None, now: float) -> None:
        if key in self._data:
            del self._data[key]  # re-insert: insertion order is write order
        elif len(self._data) >= self.max_size:
            self._make_room(now)
        self._data[key] = (value, expires)

    def _make_room(self, now: float) -> None:
        """Drop expired entries (a full sweep at most once a second), then the oldest written."""
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP_INTERVAL
            expired = [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]
            for key in expired:
                del self._data[key]
        while len(self._data) >= self.max_size:
            del self._data[next(iter(self._data))]

