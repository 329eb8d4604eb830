"""The router: pick a deployment of a model group, try it, retry, fall back.

:meth:`Router.run` is the whole policy, top to bottom::

    group = the request's model group          (unknown → 400)
    pool  = tag filtering of the group         (precomputed; may raise TagRoutingError, 401)
    at most 1 + num_retries attempts IN ALL, fallback groups included:
      in the group, while attempts are left beyond those kept for its fallback groups:
        candidates = pool minus cooling-down deployments (all of pool if all cool down)
                     minus deployments already tried by this request (when others remain)
        deployment = strategy.pick(candidates)
        await attempt(deployment)              → result: done
        non-retryable error                    → raise at once (or go to its fallbacks)
        retryable error                        → count a failure, take a retry slot of the deployment's
                                                 budget (none free → raise), back off, next try
      then each fallback group the caller may use, in order, with what is left
    then raise the last error

An error is retryable when it has a truthy ``retryable`` attribute
(``UpstreamError`` for 408/409/429/5xx, ``GatewayTimeoutError``,
``UpstreamUnavailableError``) or is a ``PostCallRuleError``. Backoff before try
``n+1``: ``backoff_base * 2**(n-1)`` capped at ``backoff_max``, at least
``retry_after``. When the next try goes to the same deployment, an upstream
``retry-after`` on a 429/503 is waited out only if it is at most
``retry_after_cap`` and ends within the request's timeout; otherwise the
client gets the error (with its ``retry-after``) at once. Every retry and
fallback attempt spends a token of the :class:`RetryBudget` of the deployment
that failed (at most 20 % of its requests in flight, at least 3 at a time), so a
storm of failures is not multiplied. A 400 recognised as a
context-window or content-policy error goes straight to
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
from .retry_budget import RetryBudget
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
        self._clock = clock
        self._budget = RetryBudget(ratio=settings.retry_budget_ratio, min_concurrent=settings.retry_budget_min_concurrent)
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
        self._warn_unreachable_fallbacks()

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

    async def run(
        self, model: str, attempt: Attempt[T], *, tags: Sequence[str] | None = None,
        allowed: Callable[[str], bool] | None = None, stream: bool = False,
    ) -> T:
        """Serve ``model`` with ``attempt``: retries in the group, then fallbacks (module docstring).

        ``allowed(group)``: whether the caller may use a fallback group (a key's
        model allow-list); groups it refuses are skipped.
        """
        group = self._groups.get(model)
        if group is None:
            raise BadRequestError(
                f"Invalid model name passed in model={model}. Call `/v1/models` to view available models for your key."
            )
        plan = _Plan(self._tries, self._clock())
        try:
            return await self._run(group, model, attempt, tags, allowed, stream, plan)
        finally:
            plan.close(self._budget)

    async def _run(
        self, group: TagFilter, model: str, attempt: Attempt[T], tags: Sequence[str] | None,
        allowed: Callable[[str], bool] | None, stream: bool, plan: "_Plan",
    ) -> T:
        usable = tuple(g for g in _lookup(self._fallbacks, model) if allowed is None or allowed(g))
        try:
            return await self._run_group(group, model, attempt, tags, plan, reserve=len(usable), stream=stream)
        except Exception as err:
            chain = tuple(g for g in self._fallback_chain(model, err) if allowed is None or allowed(g))
            if not chain or plan.left <= 0:
                raise
            error: Exception = err
        return await self._run_fallbacks(chain, attempt, tags, error, plan)

    async def _run_group(
        self, group: TagFilter, model: str, attempt: Attempt[T], tags: Sequence[str] | None, plan: "_Plan",
        *, reserve: int = 0, stream: bool = False,
    ) -> T:
        pool = group.select(model, tags)
        deployment = self._choose(pool)
        if plan.used == 0:
            plan.first = deployment.id
            self._budget.started(deployment.id)
            plan.deadline += self.timeout_for(deployment, stream=stream)
        failed: list[str] | None = None  # allocated on the first failure only
        while True:
            plan.used += 1
            try:
                return await self._call(deployment, attempt)
            except Exception as err:
                plan.release(self._budget)  # a retry this request held is over
                plan.failed = deployment.id
                failed = [deployment.id] if failed is None else [*failed, deployment.id]
                if not is_retryable(err) or plan.left <= min(reserve, self._tries - 1):
                    raise
                following = self._choose(pool, failed, deployment)
                delay = self._delay(len(failed), err, same=following is deployment, plan=plan)
                if delay is None or not plan.acquire(self._budget, deployment.id):
                    raise
                await self._sleep(delay)
                deployment = following

    async def _run_fallbacks(
        self, chain: Sequence[str], attempt: Attempt[T], tags: Sequence[str] | None, error: Exception, plan: "_Plan"
    ) -> T:
        for index, name in enumerate(chain):
            if plan.left <= 0 or plan.failed is None or not plan.acquire(self._budget, plan.failed):
                break
            try:
                return await self._run_group(self._groups[name], name, attempt, tags, plan,
                                             reserve=len(chain) - index - 1)
            except TagRoutingError:
                plan.release(self._budget)  # nothing was sent: this group does not serve these tags
                continue
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

    def _delay(self, retry: int, err: BaseException, *, same: bool, plan: "_Plan") -> float | None:
        """Seconds to wait before the next try; ``None``: do not retry (a retry-after too long to wait out)."""
        settings = self.settings
        delay = max(min(settings.backoff_base * 2.0 ** (retry - 1), settings.backoff_max), settings.retry_after)
        if same:
            hint = retry_after_hint(err)
            if hint is not None and hint > delay:
                if hint > settings.retry_after_cap or self._clock() + hint > plan.deadline:
                    return None  # the client decides: it gets the 429 and its retry-after now
                delay = hint
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

    def _warn_unreachable_fallbacks(self) -> None:
        """Say at start-up which fallback groups the attempt bound (1 + num_retries in all) never reaches."""
        tables = {"fallbacks": self._fallbacks, **{f"{k}_fallbacks": v for k, v in self._specific.items()}}
        for key, table in tables.items():
            for group, chain in table.items():
                unreached = chain[self._tries - 1:]
                if unreached:
                    log.warning(
                        "router_settings.%s: '%s' has %d fallback group(s) but num_retries is %d: a request makes "
                        "at most %d attempt(s) in all, fallbacks included, so %s never tried; raise num_retries",
                        key, group, len(chain), self._tries - 1, self._tries,
                        ", ".join(repr(g) for g in unreached) + (" is" if len(unreached) == 1 else " are"))


class _Plan:
    """One client request's attempts: how many are left, its deadline, the last deployment that failed,
    and what it holds in the retry budget (its first deployment, a retry in flight)."""

    __slots__ = ("tries", "used", "deadline", "failed", "first", "held")

    def __init__(self, tries: int, now: float) -> None:
        self.tries, self.used, self.deadline = tries, 0, now
        self.failed: str | None = None
        self.first: str | None = None
        self.held: str | None = None

    def acquire(self, budget: RetryBudget, deployment_id: str) -> bool:
        if not budget.acquire(deployment_id):
            return False
        self.held = deployment_id
        return True

    def release(self, budget: RetryBudget) -> None:
        if self.held is not None:
            budget.release(self.held)
            self.held = None

    def close(self, budget: RetryBudget) -> None:
        self.release(budget)
        if self.first is not None:
            budget.finished(self.first)

    @property
    def left(self) -> int:
        return self.tries - self.used


def _lookup(table: Mapping[str, tuple[str, ...]], model: str) -> tuple[str, ...]:
    chain = table.get(model)
    if chain is None:
        chain = tuple(t for t in table.get("*", ()) if t != model)
    return chain
