"""The router: pick a deployment of a model group, try it, retry, fall back.

:meth:`Router.run` is the whole policy, top to bottom::

    group = the request's model group          (unknown → 400)
    pool  = tag filtering of the group         (precomputed; may raise TagRoutingError, 401)
    up to 1 + num_retries tries in the group:
        candidates = pool minus cooling-down deployments (all of pool if all cool down)
                     minus deployments already tried by this request (when others remain)
        deployment = strategy.pick(candidates)
        await attempt(deployment)              → result: done
        non-retryable error                   → raise at once
        retryable error                        → count a failure, back off, next try
    then each fallback group in order, each with the same budget
    then raise the last error

An error is retryable when it has a truthy ``retryable`` attribute
(``UpstreamError`` for 408/409/429/5xx, ``GatewayTimeoutError``,
``UpstreamUnavailableError``) or is a ``PostCallRuleError``. Backoff before try
``n+1``: ``backoff_base * 2**(n-1)`` capped at ``backoff_max``, at least
``retry_after``; when the next try goes to the same deployment, an upstream
``retry-after`` header on a 429/503 is honoured up to ``retry_after_cap``.
A 400 recognised as a context-window or content-policy error goes straight to
``context_window_fallbacks`` / ``content_policy_fallbacks`` when the group has
some, else to ``fallbacks``. The router does no I/O itself: ``attempt`` calls
one deployment and enforces :meth:`Router.timeout_for`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Awaitable, Callable, Mapping, Sequence, TypeVar

from ..errors import BadRequestError, PostCallRuleError
from .cooldown import Cooldown
from .deployment import Deployment, RouterSettings
from .strategies import make_strategy
from .tags import TagFilter, TagRoutingError, group_tag_filtering

__all__ = ["Router", "is_retryable", "counts_as_failure", "failure_kind", "retry_after_hint"]

log = logging.getLogger("gatehouse.routing")

T = TypeVar("T")
Attempt = Callable[[Deployment], Awaitable[T]]

_CONTEXT_MARKERS = (
    "context_length_exceeded", "maximum context length", "context window", "context length",
    "prompt is too long", "input is too long", "too many tokens",
)
_POLICY_MARKERS = (
    "content_policy_violation", "content policy", "content management policy", "content_filter",
    "safety system",
)


def is_retryable(err: BaseException) -> bool:
    """Worth another try: a truthy ``retryable`` attribute, or a post-call rule failure."""
    return isinstance(err, PostCallRuleError) or bool(getattr(err, "retryable", False))


def counts_as_failure(err: BaseException) -> bool:
    """Counts toward the deployment's cooldown: retryable errors and 401/403/404, not rule failures."""
    if isinstance(err, PostCallRuleError):
        return False
    return bool(getattr(err, "retryable", False)) or getattr(err, "status", None) in (401, 403, 404)


def failure_kind(err: BaseException) -> str | None:
    """``"context_window"`` or ``"content_policy"`` for such 400 errors, else None."""
    if getattr(err, "status", None) != 400:
        return None
    text = f"{getattr(err, 'message', '') or err} {getattr(err, 'type', '') or ''}".lower()
    if any(marker in text for marker in _CONTEXT_MARKERS):
        return "context_window"
    if any(marker in text for marker in _POLICY_MARKERS):
        return "content_policy"
    return None


def retry_after_hint(err: BaseException) -> float | None:
    """Seconds from a ``retry-after-ms`` / ``retry-after`` header of a 429 or 503, if any."""
    headers = getattr(err, "headers", None)
    if not headers or getattr(err, "status", None) not in (429, 503):
        return None
    lowered = {str(k).lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            value = float(lowered[name]) * scale
        except (KeyError, TypeError, ValueError):
            continue
        if value >= 0:
            return value
    return None


class Router:
    """Model groups of deployments, and the retry/fallback/cooldown policy over them."""

    def __init__(
        self,
        deployments: Sequence[Deployment],
        settings: RouterSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        members: dict[str, list[Deployment]] = {}
        for deployment in deployments:
            members.setdefault(deployment.model_name, []).append(deployment)
        self._groups: dict[str, TagFilter] = {
            name: TagFilter(
                group,
                enabled=group_tag_filtering(group, settings.enable_tag_filtering),
                match_any=settings.tag_filtering_match_any,
            )
            for name, group in members.items()
        }
        self._names = tuple(members)
        self._strategy = make_strategy(settings.routing_strategy, deployments, rng or random.Random())
        self._busy = self._strategy.tracks_in_flight
        self._cooldown = Cooldown(
            allowed_fails=settings.allowed_fails,
            cooldown_time=settings.cooldown_time,
            window=settings.failure_window,
            clock=clock,
            enabled=not settings.disable_cooldowns,
        )
        self._tries = settings.num_retries + 1
        self._fallbacks = self._known("fallbacks", settings.fallbacks)
        self._specific = {
            "context_window": self._known("context_window_fallbacks", settings.context_window_fallbacks),
            "content_policy": self._known("content_policy_fallbacks", settings.content_policy_fallbacks),
        }

    # -- groups -------------------------------------------------------------

    def has_group(self, name: str) -> bool:
        return name in self._groups

    def group_names(self) -> list[str]:
        """Model group names, in config order."""
        return list(self._names)

    def deployments(self, name: str) -> Sequence[Deployment]:
        group = self._groups.get(name)
        return group.deployments if group is not None else ()

    def timeout_for(self, deployment: Deployment, *, stream: bool = False) -> float:
        """Seconds one try may take: the deployment's ``(stream_)timeout``, else the router's."""
        if stream:
            value = deployment.stream_timeout or self.settings.stream_timeout
            if value:
                return value
        return deployment.timeout or self.settings.timeout

    def cooling(self, deployment: Deployment) -> bool:
        """Whether ``deployment`` is cooling down now (for health pages and tests)."""
        return self._cooldown.cooling(deployment.id)

    # -- the call -----------------------------------------------------------

    async def run(self, model: str, attempt: Attempt[T], *, tags: Sequence[str] | None = None) -> T:
        """Serve ``model`` with ``attempt``: retries in the group, then fallbacks (module docstring)."""
        group = self._groups.get(model)
        if group is None:
            raise BadRequestError(
                f"Invalid model name passed in model={model}. Call `/v1/models` to view available models for your key."
            )
        try:
            return await self._run_group(group, model, attempt, tags)
        except Exception as err:
            chain = self._fallback_chain(model, err)
            if not chain:
                raise
            error: Exception = err
        return await self._run_fallbacks(chain, attempt, tags, error)

    async def _run_group(self, group: TagFilter, model: str, attempt: Attempt[T], tags: Sequence[str] | None) -> T:
        pool = group.select(model, tags)
        deployment = self._choose(pool)
        failed: list[str] | None = None  # allocated on the first failure only
        while True:
            try:
                return await self._call(deployment, attempt)
            except Exception as err:
                failed = [deployment.id] if failed is None else [*failed, deployment.id]
                if len(failed) >= self._tries or not is_retryable(err):
                    raise
                following = self._choose(pool, failed, deployment)
                await self._sleep(self._delay(len(failed), err, same=following is deployment))
                deployment = following

    async def _run_fallbacks(
        self, chain: Sequence[str], attempt: Attempt[T], tags: Sequence[str] | None, error: Exception
    ) -> T:
        for name in chain:
            try:
                return await self._run_group(self._groups[name], name, attempt, tags)
            except TagRoutingError:
                continue  # this fallback group may not serve these tags: try the next one
            except Exception as err:
                if not (is_retryable(err) or failure_kind(err)):
                    raise
                error = err
        raise error

    async def _call(self, deployment: Deployment, attempt: Attempt[T]) -> T:
        busy = self._busy
        if busy:
            self._strategy.started(deployment)
        try:
            return await attempt(deployment)
        except Exception as err:
            if counts_as_failure(err):
                self._cooldown.record_failure(deployment.id)
            raise
        finally:
            if busy:
                self._strategy.finished(deployment)

    def _choose(
        self, pool: Sequence[Deployment], failed: list[str] | None = None, last: Deployment | None = None
    ) -> Deployment:
        candidates = self._cooldown.available(pool)
        if failed and len(candidates) > 1:
            candidates = (
                [d for d in candidates if d.id not in failed]
                or [d for d in candidates if d is not last]
                or candidates
            )
        return candidates[0] if len(candidates) == 1 else self._strategy.pick(candidates)

    def _delay(self, retry: int, err: BaseException, *, same: bool) -> float:
        settings = self.settings
        delay = max(min(settings.backoff_base * 2.0 ** (retry - 1), settings.backoff_max), settings.retry_after)
        if same:
            hint = retry_after_hint(err)
            if hint is not None:
                delay = max(delay, min(hint, settings.retry_after_cap))
        return delay

    # -- fallbacks ----------------------------------------------------------

    def _fallback_chain(self, model: str, err: BaseException) -> tuple[str, ...]:
        kind = failure_kind(err)
        if kind is not None:
            specific = _lookup(self._specific[kind], model)
            if specific:
                return specific
        elif not is_retryable(err):
            return ()
        return _lookup(self._fallbacks, model)

    def _known(self, key: str, table: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
        """``table`` without unknown target groups (warned about once) or self-references."""
        known: dict[str, tuple[str, ...]] = {}
        for group, targets in table.items():
            for target in targets:
                if target not in self._groups:
                    log.warning("router_settings.%s: fallback model group '%s' of '%s' does not exist; ignored",
                                key, target, group)
            known[group] = tuple(dict.fromkeys(t for t in targets if t in self._groups and t != group))
        return known


def _lookup(table: Mapping[str, tuple[str, ...]], model: str) -> tuple[str, ...]:
    chain = table.get(model)
    if chain is None:
        chain = tuple(t for t in table.get("*", ()) if t != model)
    return chain
