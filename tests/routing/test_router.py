"""The router: retries, backoff, fallbacks, cooldown, strategies — pure asyncio, fakes injected."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from typing import Any, Sequence

import pytest

from gatehouse.errors import (
    BadRequestError,
    GatewayTimeoutError,
    PostCallRuleError,
    UpstreamError,
    UpstreamUnavailableError,
)
from gatehouse.routing import Deployment, Router, RouterSettings


def dep(id: str, group: str = "g", **fields: Any) -> Deployment:
    return Deployment(id=id, model_name=group, provider="mock", upstream_model=f"up-{id}", **fields)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Script:
    """An attempt function: outcomes per deployment id (exception → raised), else ``ok:<id>``."""

    def __init__(self, **outcomes: Any) -> None:
        self.outcomes = {k: list(v) if isinstance(v, list) else v for k, v in outcomes.items()}
        self.calls: list[str] = []

    async def __call__(self, d: Deployment) -> str:
        self.calls.append(d.id)
        outcome = self.outcomes.get(d.id, f"ok:{d.id}")
        if isinstance(outcome, list):
            outcome = outcome.pop(0) if outcome else f"ok:{d.id}"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def make(deployments: Sequence[Deployment], seed: int = 7, **settings: Any) -> tuple[Router, Sleeps, Clock]:
    sleeps, clock = Sleeps(), Clock()
    router = Router(list(deployments), RouterSettings(**settings), clock=clock, sleep=sleeps, rng=random.Random(seed))
    return router, sleeps, clock


def e503() -> UpstreamError:
    return UpstreamError("upstream down", status=503)


# -- groups ---------------------------------------------------------------------


def test_groups_in_config_order() -> None:
    router, _, _ = make([dep("a", "g2"), dep("b", "g1"), dep("c", "g2")])
    assert router.group_names() == ["g2", "g1"]
    assert router.has_group("g1") and not router.has_group("nope")
    assert [d.id for d in router.deployments("g2")] == ["a", "c"]
    assert router.deployments("nope") == ()


async def test_unknown_model_is_400() -> None:
    router, _, _ = make([dep("a")])
    with pytest.raises(BadRequestError) as caught:
        await router.run("nope", Script())
    assert caught.value.status == 400
    assert "Invalid model name passed in model=nope" in caught.value.message


def test_timeout_for_prefers_the_deployment() -> None:
    router, _, _ = make([], timeout=600.0, stream_timeout=90.0)
    assert router.timeout_for(dep("a", timeout=5.0)) == 5.0
    assert router.timeout_for(dep("b")) == 600.0
    assert router.timeout_for(dep("c", timeout=5.0, stream_timeout=50.0), stream=True) == 50.0
    assert router.timeout_for(dep("d", timeout=5.0), stream=True) == 90.0
    assert Router([], RouterSettings()).timeout_for(dep("e", timeout=5.0), stream=True) == 5.0


async def test_success_is_one_attempt() -> None:
    router, sleeps, _ = make([dep("a")])
    script = Script()
    assert await router.run("g", script) == "ok:a"
    assert script.calls == ["a"] and sleeps == []


# -- retries --------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [e503(), UpstreamError("slow", status=429), UpstreamError("t", status=408), GatewayTimeoutError(),
     UpstreamUnavailableError(), PostCallRuleError("rule says no")],
    ids=["503", "429", "408", "timeout", "unavailable", "post-call-rule"],
)
async def test_num_retries_2_means_3_attempts(error: Exception) -> None:
    router, sleeps, _ = make([dep("a")], num_retries=2)
    script = Script(a=error)
    with pytest.raises(type(error)) as caught:
        await router.run("g", script)
    assert caught.value is error
    assert script.calls == ["a", "a", "a"]
    assert len(sleeps) == 2


async def test_retry_then_success() -> None:
    router, _, _ = make([dep("a")])
    script = Script(a=[e503(), e503()])
    assert await router.run("g", script) == "ok:a"
    assert script.calls == ["a", "a", "a"]


async def test_num_retries_0_is_one_attempt() -> None:
    router, sleeps, _ = make([dep("a")], num_retries=0)
    script = Script(a=e503())
    with pytest.raises(UpstreamError):
        await router.run("g", script)
    assert script.calls == ["a"] and sleeps == []


@pytest.mark.parametrize(
    "error",
    [UpstreamError("bad", status=400), UpstreamError("who", status=401), UpstreamError("no", status=404),
     UpstreamError("unprocessable", status=422), ValueError("bug in attempt")],
    ids=["400", "401", "404", "422", "not-a-gateway-error"],
)
async def test_non_retryable_propagates_after_one_attempt(error: Exception) -> None:
    router, sleeps, _ = make([dep("a"), dep("b")])
    router2 = Router([dep("a"), dep("b"), dep("h1", "h")], RouterSettings(fallbacks={"g": ("h",)}), sleep=sleeps)
    for r in (router, router2):
        script = Script(a=error, b=error)
        with pytest.raises(type(error)):
            await r.run("g", script)
        assert len(script.calls) == 1
    assert sleeps == []


async def test_retry_prefers_another_deployment() -> None:
    for seed in range(20):
        router, _, _ = make([dep("a"), dep("b")], seed=seed, allowed_fails=100)
        script = Script(a=[e503()], b=[e503()])
        assert (await router.run("g", script)).startswith("ok:")
        assert script.calls[0] != script.calls[1]


async def test_retries_visit_every_deployment_before_repeating() -> None:
    for seed in range(20):
        router, _, _ = make([dep("a"), dep("b"), dep("c")], seed=seed, num_retries=2, allowed_fails=100)
        script = Script(a=e503(), b=e503(), c=e503())
        with pytest.raises(UpstreamError):
            await router.run("g", script)
        assert sorted(script.calls) == ["a", "b", "c"]


async def test_backoff_doubles_and_is_capped() -> None:
    router, sleeps, _ = make([dep("a")], num_retries=8, allowed_fails=100)
    with pytest.raises(UpstreamError):
        await router.run("g", Script(a=e503()))
    assert sleeps == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])


async def test_retry_after_setting_is_a_minimum() -> None:
    router, sleeps, _ = make([dep("a")], num_retries=4, retry_after=0.3, allowed_fails=100)
    with pytest.raises(UpstreamError):
        await router.run("g", Script(a=e503()))
    assert sleeps == pytest.approx([0.3, 0.3, 0.3, 0.4])


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry-after": "3"}, 3.0), ({"Retry-After": "10"}, 10.0), ({"retry-after-ms": "700"}, 0.7),
     ({"retry-after": "soon"}, 0.05), ({}, 0.05)],
)
async def test_retry_after_header_on_429_is_honoured_up_to_the_cap(headers: dict[str, str], expected: float) -> None:
    router, sleeps, _ = make([dep("a")], num_retries=1)
    script = Script(a=[UpstreamError("slow down", status=429, headers=headers)])
    assert await router.run("g", script) == "ok:a"
    assert sleeps == pytest.approx([expected])


async def test_a_retry_after_beyond_the_cap_is_answered_not_waited_out() -> None:
    limited = UpstreamError("slow down", status=429, headers={"retry-after": "30"})
    router, sleeps, _ = make([dep("a")], num_retries=2)
    script = Script(a=[limited])
    with pytest.raises(UpstreamError) as caught:
        await router.run("g", script)
    assert caught.value is limited and script.calls == ["a"] and sleeps == []


async def test_a_retry_after_past_the_request_timeout_is_answered_not_waited_out() -> None:
    limited = UpstreamError("slow down", status=429, headers={"retry-after": "5"})
    router, sleeps, _ = make([dep("a", timeout=2.0)], num_retries=2)
    with pytest.raises(UpstreamError) as caught:
        await router.run("g", Script(a=[limited]))
    assert caught.value is limited and sleeps == []


async def test_retry_after_header_is_ignored_when_the_retry_goes_elsewhere() -> None:
    router, sleeps, _ = make([dep("a"), dep("b")], num_retries=1)
    calls: list[str] = []

    async def first_call_limited(d: Deployment) -> str:
        calls.append(d.id)
        if len(calls) == 1:
            raise UpstreamError("slow down", status=429, headers={"retry-after": "5"})
        return d.id

    assert await router.run("g", first_call_limited) == calls[1] != calls[0]
    assert sleeps == pytest.approx([0.05])


async def test_cancellation_is_not_retried() -> None:
    router, sleeps, _ = make([dep("a")])
    script = Script(a=asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await router.run("g", script)
    assert script.calls == ["a"] and sleeps == []


# -- fallbacks ------------------------------------------------------------------


async def test_fallbacks_in_order_within_one_budget_of_attempts() -> None:
    """1 + num_retries attempts in all: the group keeps one attempt for each fallback group."""
    deployments = [dep("a", "g"), dep("b", "h"), dep("c", "i")]
    router, _, _ = make(deployments, fallbacks={"g": ("h", "i")}, allowed_fails=100, num_retries=3)
    script = Script(a=e503(), b=e503())
    assert await router.run("g", script) == "ok:c"
    assert script.calls == ["a", "a", "b", "c"]


async def test_attempts_in_all_are_one_plus_num_retries() -> None:
    router, _, _ = make([dep("a", "g"), dep("b", "h")], fallbacks={"g": ("h",)}, allowed_fails=100)
    script = Script(a=e503(), b=e503())
    with pytest.raises(UpstreamError):
        await router.run("g", script)
    assert script.calls == ["a", "a", "b"]


async def test_fallback_groups_beyond_the_attempt_bound_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gatehouse.routing"):
        make([dep("a", "g"), dep("b", "h"), dep("c", "i")], fallbacks={"g": ("h", "i")}, num_retries=1)
    assert any("'i' is never tried" in r.getMessage() for r in caplog.records)


async def test_fallback_groups_the_caller_may_not_use_are_skipped() -> None:
    router, _, _ = make([dep("a", "small"), dep("b", "big"), dep("c", "cheap")],
                        context_window_fallbacks={"small": ("big", "cheap")}, num_retries=2)
    too_long = UpstreamError("This model's maximum context length is 8192 tokens", status=400)
    script = Script(a=too_long)
    assert await router.run("small", script, allowed=lambda group: group != "big") == "ok:c"
    assert script.calls == ["a", "c"]
    script = Script(a=too_long)
    with pytest.raises(UpstreamError) as caught:
        await router.run("small", script, allowed=lambda group: group == "small")
    assert caught.value is too_long and script.calls == ["a"]


async def test_the_retry_budget_stops_multiplying_a_storm() -> None:
    """100 requests in flight all fail: at most 20 % of them are retried at once (and 3 always may)."""
    router, _, _ = make([dep("a")], num_retries=2, allowed_fails=10_000)
    first, retries = asyncio.Event(), asyncio.Event()
    calls: list[int] = []

    async def failing(d: Deployment) -> str:
        calls.append(len(calls))
        await (first if len(calls) <= 100 else retries).wait()
        raise e503()

    tasks = [asyncio.ensure_future(router.run("g", failing)) for _ in range(100)]
    while len(calls) < 100:
        await asyncio.sleep(0)
    first.set()
    for _ in range(20):
        await asyncio.sleep(0)
    retries.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, UpstreamError) for r in results)
    assert 100 + 3 <= len(calls) <= 100 + 20 + 3 + 1, len(calls)  # without the budget: 300
    assert router._budget.in_flight("a") == (0, 0)


async def test_sequential_failures_are_always_retried() -> None:
    router, _, _ = make([dep("a")], num_retries=1, allowed_fails=10_000)
    failing = Script(a=e503())
    for _ in range(50):
        with pytest.raises(UpstreamError):
            await router.run("g", failing)
    assert len(failing.calls) == 100


async def test_the_retry_budget_is_given_back_when_a_request_is_cancelled() -> None:
    router, _, _ = make([dep("a")], num_retries=1, allowed_fails=10_000)
    hang = asyncio.Event()

    async def fail_then_hang(d: Deployment) -> str:
        if router._budget.in_flight("a")[1] == 0:
            raise e503()
        await hang.wait()
        return "never"

    task = asyncio.ensure_future(router.run("g", fail_then_hang))
    while router._budget.in_flight("a") != (1, 1):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert router._budget.in_flight("a") == (0, 0)


async def test_all_fallbacks_failing_raises_the_last_error() -> None:
    last = UpstreamError("h is down too", status=502)
    router, _, _ = make([dep("a", "g"), dep("b", "h")], fallbacks={"g": ("h",)}, num_retries=1)
    with pytest.raises(UpstreamError) as caught:
        await router.run("g", Script(a=e503(), b=last))
    assert caught.value is last


async def test_non_retryable_error_in_a_fallback_stops_there() -> None:
    bad = UpstreamError("bad param for h", status=400)
    router, _, _ = make([dep("a", "g"), dep("b", "h"), dep("c", "i")], fallbacks={"g": ("h", "i")}, num_retries=2)
    script = Script(a=e503(), b=bad)
    with pytest.raises(UpstreamError) as caught:
        await router.run("g", script)
    assert caught.value is bad and script.calls == ["a", "b"]


async def test_wildcard_fallbacks_apply_to_groups_without_an_entry() -> None:
    router, _, _ = make([dep("a", "g"), dep("b", "h"), dep("c", "cheap")],
                        fallbacks={"h": (), "*": ("cheap",)}, num_retries=1)
    assert await router.run("g", Script(a=e503())) == "ok:c"
    with pytest.raises(UpstreamError):
        await router.run("h", Script(b=e503()))  # an explicit empty entry: no fallback


async def test_fallbacks_of_a_fallback_are_not_followed() -> None:
    router, _, _ = make([dep("a", "g"), dep("b", "h"), dep("c", "i")],
                        fallbacks={"g": ("h",), "h": ("i",)}, num_retries=2)
    script = Script(a=e503(), b=e503())
    with pytest.raises(UpstreamError):
        await router.run("g", script)
    assert script.calls == ["a", "a", "b"]


async def test_unknown_fallback_groups_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gatehouse.routing"):
        router, _, _ = make([dep("a", "g"), dep("b", "h")], fallbacks={"g": ("ghost", "h", "g")}, num_retries=1)
    assert any("ghost" in r.getMessage() for r in caplog.records)
    script = Script(a=e503())
    assert await router.run("g", script) == "ok:b"
    assert script.calls == ["a", "b"]


async def test_context_window_error_goes_to_context_window_fallbacks_at_once() -> None:
    too_long = UpstreamError("This model's maximum context length is 8192 tokens", status=400)
    router, sleeps, _ = make([dep("a", "g"), dep("b", "big"), dep("c", "other")],
                             context_window_fallbacks={"g": ("big",)}, fallbacks={"g": ("other",)})
    script = Script(a=too_long)
    assert await router.run("g", script) == "ok:b"
    assert script.calls == ["a", "b"] and sleeps == []


async def test_content_policy_error_uses_generic_fallbacks_when_no_specific_ones() -> None:
    filtered = UpstreamError("The response was filtered due to Azure OpenAI's content management policy", status=400)
    router, _, _ = make([dep("a", "g"), dep("c", "other")], fallbacks={"g": ("other",)})
    script = Script(a=filtered)
    assert await router.run("g", script) == "ok:c"
    assert script.calls == ["a", "c"]


async def test_tag_refusing_fallback_group_is_skipped() -> None:
    deployments = [dep("a", "g", tags=("teamA",)), dep("b", "h", tags=("teamB",)), dep("c", "i", tags=("teamA",))]
    router, _, _ = make(deployments, enable_tag_filtering=True, fallbacks={"g": ("h", "i")}, num_retries=2)
    script = Script(a=e503())
    assert await router.run("g", script, tags=["teamA"]) == "ok:c"


# -- cooldown -------------------------------------------------------------------


async def test_cooldown_after_allowed_fails_and_recovery_after_cooldown_time() -> None:
    a, b = dep("a"), dep("b")
    router, _, clock = make([a, b], allowed_fails=1, cooldown_time=5.0, num_retries=1)
    script = Script(a=[e503(), e503()])
    while script.calls.count("a") < 2:
        await router.run("g", script)
    assert router.cooling(a)
    script.calls.clear()
    for _ in range(30):
        await router.run("g", script)
    assert set(script.calls) == {"b"}
    clock.now += 5.0
    assert not router.cooling(a)
    for _ in range(30):
        await router.run("g", script)
    assert "a" in script.calls


async def test_failures_outside_the_window_do_not_cool_down() -> None:
    a = dep("a")
    router, _, clock = make([a], allowed_fails=1, num_retries=0)
    for _ in range(3):
        with pytest.raises(UpstreamError):
            await router.run("g", Script(a=e503()))
        clock.now += 61.0
    assert not router.cooling(a)


async def test_when_every_deployment_cools_down_they_still_serve() -> None:
    a, b = dep("a"), dep("b")
    router, _, _ = make([a, b], allowed_fails=0, num_retries=1)
    with pytest.raises(UpstreamError):
        await router.run("g", Script(a=e503(), b=e503()))
    assert router.cooling(a) and router.cooling(b)
    assert (await router.run("g", Script())).startswith("ok:")


async def test_client_errors_and_rule_failures_do_not_cool_down() -> None:
    a = dep("a")
    router, _, _ = make([a], allowed_fails=0, num_retries=0)
    for error in (UpstreamError("bad", status=400), PostCallRuleError("no")):
        with pytest.raises(type(error)):
            await router.run("g", Script(a=error))
    assert not router.cooling(a)
    with pytest.raises(UpstreamError):
        await router.run("g", Script(a=UpstreamError("bad key", status=401)))
    assert router.cooling(a)


async def test_disable_cooldowns() -> None:
    a = dep("a")
    router, _, _ = make([a], allowed_fails=0, num_retries=0, disable_cooldowns=True)
    with pytest.raises(UpstreamError):
        await router.run("g", Script(a=e503()))
    assert not router.cooling(a)


# -- strategies -----------------------------------------------------------------


async def test_least_busy_picks_the_idle_deployment_under_concurrency() -> None:
    router, _, _ = make([dep("a"), dep("b"), dep("c")], routing_strategy="least-busy")
    release = asyncio.Event()
    started: list[str] = []

    async def slow(d: Deployment) -> str:
        started.append(d.id)
        await release.wait()
        return d.id

    tasks = [asyncio.create_task(router.run("g", slow)) for _ in range(2)]
    await asyncio.sleep(0)
    assert len(set(started)) == 2
    idle = ({"a", "b", "c"} - set(started)).pop()
    for _ in range(5):
        assert await router.run("g", Script()) == f"ok:{idle}"
    release.set()
    assert sorted(await asyncio.gather(*tasks)) == sorted(started)
    assert all(router._strategy.in_flight(d) == 0 for d in router.deployments("g"))  # type: ignore[attr-defined]


async def test_least_busy_releases_on_error_and_cancellation() -> None:
    router, _, _ = make([dep("a")], routing_strategy="least-busy", num_retries=0)
    with pytest.raises(UpstreamError):
        await router.run("g", Script(a=e503()))

    async def hang(d: Deployment) -> str:
        await asyncio.sleep(3600)
        return "never"

    task = asyncio.create_task(router.run("g", hang))
    await asyncio.sleep(0)
    assert router._strategy.in_flight(router.deployments("g")[0]) == 1  # type: ignore[attr-defined]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert router._strategy.in_flight(router.deployments("g")[0]) == 0  # type: ignore[attr-defined]


async def pick_counts(deployments: Sequence[Deployment], n: int = 4000) -> Counter[str]:
    router, _, _ = make(deployments, seed=12345)
    script = Script()
    for _ in range(n):
        await router.run("g", script)
    return Counter(script.calls)


async def test_weighted_shuffle_follows_weights() -> None:
    counts = await pick_counts([dep("a", weight=1.0), dep("b", weight=3.0)])
    assert 0.70 < counts["b"] / 4000 < 0.80


async def test_rpm_weights_when_no_weight_is_set() -> None:
    counts = await pick_counts([dep("a", rpm=100), dep("b", rpm=300), dep("c", rpm=600)])
    assert 0.05 < counts["a"] / 4000 < 0.15 and 0.53 < counts["c"] / 4000 < 0.67


async def test_unweighted_shuffle_is_uniform() -> None:
    counts = await pick_counts([dep("a"), dep("b")])
    assert 0.45 < counts["a"] / 4000 < 0.55


async def test_weight_zero_serves_only_when_nothing_else_is_eligible() -> None:
    counts = await pick_counts([dep("a", weight=1.0), dep("b")], n=500)
    assert counts == Counter({"a": 500})
