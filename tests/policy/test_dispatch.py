"""How one hook is called (gatehouse.policy.pipeline.Pipeline._run): a coroutine's first step runs at
once and the timeout is armed only when it waits; waiting hooks behave exactly as under ``await``."""

from __future__ import annotations

import asyncio

import pytest

from gatehouse.background import Background
from gatehouse.call import Call
from gatehouse.endpoints import ENDPOINTS
from gatehouse.errors import InternalError
from gatehouse.metrics import Metrics
from gatehouse.policy.pipeline import Pipeline, bind
from gatehouse.policy.variants import PolicySet


class Hooks:
    def __init__(self) -> None:
        self.cleaned = False

    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        mode = data["mode"]
        if mode == "sync":
            return "done at once"
        if mode == "waits":
            for _ in range(3):
                await asyncio.sleep(0)
            await asyncio.sleep(0.01)
            future = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.01, future.set_result, "from a future")
            return await future
        if mode == "raises_after_waiting":
            await asyncio.sleep(0.01)
            raise ValueError("late failure")
        if mode == "hangs":
            try:
                await asyncio.sleep(10)
            finally:
                self.cleaned = True
        return None


def _pipeline(hooks: Hooks, timeout: float = 5.0) -> Pipeline:
    return Pipeline([("hooks", hooks)], cache=None, hook_timeout=timeout, metrics=Metrics())


def _call() -> Call:
    nobody = PolicySet([], cache=None, hook_timeout=5.0, metrics=Metrics(), background=Background()).unauthenticated
    return Call("call-1", ENDPOINTS[0], "/v1/chat/completions", {}, nobody)


async def _run(pipeline: Pipeline, mode: str) -> object:
    hook = bind(pipeline.callbacks, "async_pre_call_hook")[0]
    return await pipeline._run(_call(), "pre_call", hook, None, None, {"mode": mode}, "completion")


async def test_a_hook_that_never_waits_returns_its_value() -> None:
    assert await _run(_pipeline(Hooks()), "sync") == "done at once"


async def test_a_hook_that_waits_many_times_gets_every_value() -> None:
    assert await _run(_pipeline(Hooks()), "waits") == "from a future"


async def test_an_exception_after_waiting_reaches_the_caller() -> None:
    with pytest.raises(ValueError, match="late failure"):
        await _run(_pipeline(Hooks()), "raises_after_waiting")


async def test_a_hook_that_hangs_times_out_and_is_cancelled() -> None:
    hooks = Hooks()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(InternalError, match="timed out after 0.2 s"):
        await _run(_pipeline(hooks, timeout=0.2), "hangs")
    assert 0.15 < loop.time() - started < 1.0
    assert hooks.cleaned  # the cancellation reached the hook's own `finally`


async def test_cancelling_the_request_cancels_a_waiting_hook() -> None:
    hooks = Hooks()
    task = asyncio.ensure_future(_run(_pipeline(hooks), "hangs"))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert hooks.cleaned
