"""The built-in parallel-request / rate limiter, written as an ordinary hook.

Per virtual key (descriptor ``api_key``, value = the hashed key), only the
limits set on the caller's ``UserAPIKeyAuth`` are checked:

- ``rpm_limit``: requests per fixed window (counted at pre-call);
- ``tpm_limit``: tokens per fixed window (``usage.total_tokens``, added when
  the response is logged; a request is refused when the window's tokens
  already reach the limit);
- ``max_parallel_requests``: a gauge of requests in flight, released when the
  request (or its stream) ends.

Windows start at ``floor(now / window) * window`` (UNIX seconds); the window is
``LITELLM_RATE_LIMIT_WINDOW_SIZE`` seconds (default 60). Counters live in the
:class:`~gatehouse.cache.DualCache` given to the constructor, so in Redis when
Redis is configured and shared by every replica (LiteLLM's cluster-safe key
names)::

    {api_key:<hash>}:requests:<window_start>     TTL = window
    {api_key:<hash>}:tokens:<window_start>       TTL = window
    {api_key:<hash>}:max_parallel_requests       TTL = 1 h, refreshed on acquire

If Redis fails, the cache falls back to this replica's counts (fail open).
Over a limit the hook raises :class:`gatehouse.errors.RateLimitError` (429,
``throttling_error``) with LiteLLM's message and ``retry-after``,
``rate_limit_type`` and ``reset_at`` headers.

What a request acquired is recorded in ``data["metadata"]["gatehouse_rate_limit"]``
(the counts seen, for the response headers) and held by this limiter, under
the request's ``litellm_call_id``, until ``async_log_success_event`` or
``async_log_failure_event`` releases it, exactly once (the gateway must fire
one of them for every request that passed the limiter, including requests a
later hook rejected). The gateway installs one limiter, first, before user hooks and guardrails.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Mapping

from ..cache import DualCache
from ..errors import RateLimitError
from ..policy.custom_logger import CustomLogger

__all__ = ["ParallelRequestLimiter", "MARKER", "window_from_env"]

logger = logging.getLogger("gatehouse.plugins.rate_limiter")

#: Key in ``data["metadata"]`` where a request's acquisition is recorded.
MARKER = "gatehouse_rate_limit"
DEFAULT_WINDOW = 60
#: Safety TTL of the in-flight gauge, so a replica that dies mid-request
#: cannot hold a slot forever.
GAUGE_TTL = 3600.0
REQUESTS, TOKENS, PARALLEL = "requests", "tokens", "max_parallel_requests"


def window_from_env(environ: Mapping[str, str] = os.environ) -> int:
    """``LITELLM_RATE_LIMIT_WINDOW_SIZE`` in seconds (default 60)."""
    raw = environ.get("LITELLM_RATE_LIMIT_WINDOW_SIZE", "").strip()
    if not raw:
        return DEFAULT_WINDOW
    try:
        window = int(raw)
    except ValueError:
        raise ValueError(f"LITELLM_RATE_LIMIT_WINDOW_SIZE must be a whole number of seconds, got {raw!r}") from None
    if window < 1:
        raise ValueError(f"LITELLM_RATE_LIMIT_WINDOW_SIZE must be at least 1, got {window}")
    return window


@dataclass(frozen=True, slots=True)
class _Limits:
    """The limits set on a caller (``None``: not limited)."""

    requests: int | None
    tokens: int | None
    parallel: int | None

    @classmethod
    def of(cls, auth: Any) -> "_Limits | None":
        limits = cls(
            _whole(getattr(auth, "rpm_limit", None)),
            _whole(getattr(auth, "tpm_limit", None)),
            _whole(getattr(auth, "max_parallel_requests", None)),
        )
        return None if limits == _NO_LIMITS else limits

    def headers(self, seen: Mapping[str, Any]) -> dict[str, str]:
        """LiteLLM's limit headers for the counts a request saw (``seen``)."""
        out: dict[str, str] = {}
        for kind, limit in ((REQUESTS, self.requests), (TOKENS, self.tokens), (PARALLEL, self.parallel)):
            if limit is None:
                continue
            if kind in seen:
                out[f"x-ratelimit-api_key-remaining-{kind}"] = str(max(0, limit - int(seen[kind])))
            out[f"x-ratelimit-api_key-limit-{kind}"] = str(limit)
        if self.requests is not None:
            out["x-litellm-key-rpm-limit"] = str(self.requests)
        if self.tokens is not None:
            out["x-litellm-key-tpm-limit"] = str(self.tokens)
        return out


_NO_LIMITS = _Limits(None, None, None)


def _whole(limit: Any) -> int | None:
    """A limit as an int (key rows may hold floats); ``None`` when unset."""
    if limit is None or isinstance(limit, bool):
        return None
    try:
        return int(limit)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class _Held:
    """What a request must give back when it ends."""

    prefix: str
    gauge: bool  # holds a max_parallel_requests slot
    count_tokens: bool  # has a tpm_limit: add usage.total_tokens


class ParallelRequestLimiter(CustomLogger):
    """Per-key RPM, TPM and max-parallel limits over a shared :class:`DualCache`.

    ``window_seconds`` defaults to :func:`window_from_env`; ``clock`` returns
    UNIX seconds (tests may pass their own).
    """

    def __init__(
        self,
        cache: DualCache,
        window_seconds: int | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.cache = cache
        self.window = int(window_seconds) if window_seconds is not None else window_from_env()
        if self.window < 1:
            raise ValueError("window_seconds must be at least 1")
        self._clock = clock
        self._held: dict[str, _Held] = {}

    def should_run_for(self, user_api_key_dict: Any) -> bool:
        """Only callers with a limit: the others skip every hook of the limiter (no cost)."""
        return _Limits.of(user_api_key_dict) is not None

    # -- pre-call: count and check -----------------------------------------------------
    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str) -> None:
        """Count the request; raise :class:`RateLimitError` when a limit is crossed.

        Uses the limiter's own cache, not ``cache`` (the gateway gives the
        limiter a memory tier of its own, so nothing else stored can evict its
        counters). Returns ``None``: ``data`` is kept, with the acquisition
        recorded under ``data["metadata"]["gatehouse_rate_limit"]``.
        """
        limits = _Limits.of(user_api_key_dict)
        if limits is None:
            return None
        api_key = getattr(user_api_key_dict, "api_key", None) or getattr(user_api_key_dict, "token", None)
        if not api_key:
            return None
        now = self._clock()
        start = int(now // self.window) * self.window
        prefix = "{api_key:%s}" % api_key
        seen = await self._count(prefix, start, limits)
        crossed = _crossed(limits, seen)
        if crossed is not None:
            if PARALLEL in seen:
                await self.cache.async_increment_cache(f"{prefix}:{PARALLEL}", -1, ttl=GAUGE_TTL)
            logger.debug("rate limited api_key %s: %s %s", api_key, crossed, seen)
            raise self._error(api_key, crossed, limits, start, now)
        self._record(data, prefix, start, limits, seen)
        return None

    async def _count(self, prefix: str, start: int, limits: _Limits) -> dict[str, int | float]:
        """One concurrent round of cache increments: what this request sees."""
        cache, window = self.cache, self.window
        ops: dict[str, Awaitable[int | float]] = {}
        if limits.tokens is not None:  # + 0: read through to Redis, never a stale local copy
            ops[TOKENS] = cache.async_increment_cache(f"{prefix}:{TOKENS}:{start}", 0, ttl=window)
        if limits.requests is not None:
            ops[REQUESTS] = cache.async_increment_cache(f"{prefix}:{REQUESTS}:{start}", 1, ttl=window)
        if limits.parallel is not None:
            ops[PARALLEL] = cache.async_increment_cache(f"{prefix}:{PARALLEL}", 1, ttl=GAUGE_TTL, refresh_ttl=True)
        values = await asyncio.gather(*ops.values())
        return dict(zip(ops, values))

    def _record(self, data: dict, prefix: str, start: int, limits: _Limits, seen: dict[str, int | float]) -> None:
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = data["metadata"] = {}
        marker: dict[str, Any] = {"window_start": start, **seen}
        if limits.parallel is not None or limits.tokens is not None:
            token = data.get("litellm_call_id")
            marker["id"] = token = token if isinstance(token, str) and token else uuid.uuid4().hex
            self._held[token] = _Held(prefix, limits.parallel is not None, limits.tokens is not None)
        metadata[MARKER] = marker

    def _error(self, api_key: str, kind: str, limits: _Limits, start: int, now: float) -> RateLimitError:
        limit = {REQUESTS: limits.requests, TOKENS: limits.tokens, PARALLEL: limits.parallel}[kind]
        reset = start + self.window
        reset_at = datetime.fromtimestamp(reset, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        retry_after = 1 if kind == PARALLEL else max(1, math.ceil(reset - now))
        message = (
            f"Rate limit exceeded for api_key: {api_key}. Limit type: {kind}. "
            f"Current limit: {limit}, Remaining: 0. Limit resets at: {reset_at}"
        )
        headers = {"retry-after": str(retry_after), "rate_limit_type": kind, "reset_at": reset_at}
        return RateLimitError(message, headers=headers)

    # -- release: after the response (or the failure) ----------------------------------------
    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        """Free the parallel slot and add ``usage.total_tokens`` to the window."""
        await self._release(kwargs, response_obj)

    async def async_log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        """Free the parallel slot (and count tokens, if the failure carried usage)."""
        await self._release(kwargs, response_obj)

    async def _release(self, kwargs: dict, response_obj: Any) -> None:
        marker = _pop_marker(kwargs)
        # The call id finds the hold even when a later hook replaced ``data``
        # (and with it the marker).
        token = (marker or {}).get("id") or kwargs.get("litellm_call_id")
        held = self._held.pop(token, None) if isinstance(token, str) else None
        if held is None:
            return
        tokens = _total_tokens(response_obj) if held.count_tokens else 0
        await self._give_back(held, tokens)

    async def _give_back(self, held: _Held, tokens: int) -> None:
        cache = self.cache
        if held.gauge:
            key = f"{held.prefix}:{PARALLEL}"
            left = await cache.async_increment_cache(key, -1, ttl=GAUGE_TTL)
            if left < 0:  # the gauge expired while the request ran: bring it back to 0
                await cache.async_increment_cache(key, -left, ttl=GAUGE_TTL)
        if tokens > 0:
            start = int(self._clock() // self.window) * self.window
            await cache.async_increment_cache(f"{held.prefix}:{TOKENS}:{start}", tokens, ttl=self.window)

    async def shutdown(self) -> None:
        """Give back every slot still held (graceful stop of this replica)."""
        held, self._held = list(self._held.values()), {}
        for item in held:
            await self._give_back(item, 0)

    # -- headers -------------------------------------------------------------------------
    async def async_post_call_response_headers_hook(
        self,
        data: dict,
        user_api_key_dict: Any,
        response: Any,
        request_headers: dict | None = None,
        litellm_call_info: dict | None = None,
    ) -> dict[str, str] | None:
        """``x-ratelimit-api_key-{remaining,limit}-<type>`` and ``x-litellm-key-{rpm,tpm}-limit``."""
        limits = _Limits.of(user_api_key_dict)
        if limits is None:
            return None
        metadata = data.get("metadata") if isinstance(data, dict) else None
        marker = metadata.get(MARKER) if isinstance(metadata, dict) else None
        return limits.headers(marker if isinstance(marker, dict) else {}) or None


def _crossed(limits: _Limits, seen: Mapping[str, int | float]) -> str | None:
    """The first limit type this request crosses, if any."""
    if limits.requests is not None and seen[REQUESTS] > limits.requests:
        return REQUESTS
    if limits.tokens is not None and seen[TOKENS] >= limits.tokens:
        return TOKENS
    if limits.parallel is not None and seen[PARALLEL] > limits.parallel:
        return PARALLEL
    return None


def _pop_marker(kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The request's marker, removed from every metadata dict the event carries."""
    params = kwargs.get("litellm_params")
    found: dict[str, Any] | None = None
    for metadata in (params.get("metadata") if isinstance(params, Mapping) else None, kwargs.get("metadata")):
        if isinstance(metadata, dict):
            marker = metadata.pop(MARKER, None)
            if isinstance(marker, dict) and found is None:
                found = marker
    return found


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    try:
        return getattr(obj, name, None)
    except Exception:  # a view that cannot answer reads as absent
        return None


def _total_tokens(response: Any) -> int:
    """``usage.total_tokens`` of a response object or dict (0 when absent)."""
    total = _field(_field(response, "usage"), "total_tokens")
    return total if isinstance(total, int) and not isinstance(total, bool) and total > 0 else 0
