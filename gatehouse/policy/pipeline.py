"""Hook dispatch: the one place where callbacks are called.

At start-up every callback's hook methods are looked up once (anywhere in
its class hierarchy, :func:`gatehouse.policy.loading.has_hook`) into one list
per hook, in order. At request time each stage walks its list; an empty list
costs nothing. What each return value and exception means is declared in
:mod:`gatehouse.policy.catalogue`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Coroutine, Generator, Sequence, TypeVar

from ..call import Call, Rejection
from ..errors import GatewayError, InternalError, from_exception, is_http_exception
from ..metrics import Metrics
from ..views import ModelResponse, unwrap
from .loading import has_hook

__all__ = ["Pipeline", "BoundHook", "user_error"]

log = logging.getLogger("gatehouse.policy")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BoundHook:
    label: str
    name: str
    fn: Callable[..., Any]
    positional: int
    """How many of the catalogue's positional arguments the method accepts."""
    keywords: frozenset[str] | None
    """Keyword arguments it accepts (``None``: any)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs and self.keywords is not None:
            kwargs = {k: v for k, v in kwargs.items() if k in self.keywords}
        return self.fn(*args[: self.positional], **kwargs)


def bind(callbacks: Sequence[tuple[str, object]], name: str) -> tuple[BoundHook, ...]:
    """Hook ``name`` of every callback that defines it, in order.

    Methods written for older LiteLLM signatures (fewer arguments, no
    ``traceback_str``) are called with what they accept.
    """
    hooks = []
    for label, obj in callbacks:
        if has_hook(obj, name):
            fn = getattr(obj, name)
            positional, keywords = _arity(fn)
            hooks.append(BoundHook(label, name, fn, positional, keywords))
    return tuple(hooks)


def _arity(fn: Callable[..., Any]) -> tuple[int, frozenset[str] | None]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return 99, None
    kinds = {p.kind for p in params}
    positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        positional = 99
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return positional, None
    return positional, frozenset(p.name for p in params if p.kind is not p.POSITIONAL_ONLY)


class Pipeline:
    """The hook lists of one gateway, and how each stage runs them."""

    def __init__(
        self, callbacks: Sequence[tuple[str, object]], *, cache: Any, hook_timeout: float, metrics: Metrics
    ) -> None:
        self.callbacks = tuple(callbacks)
        self.cache = cache
        self.hook_timeout = hook_timeout
        self.metrics = metrics
        self.pre_call = bind(callbacks, "async_pre_call_hook")
        self.moderation = bind(callbacks, "async_moderation_hook")
        self.success = bind(callbacks, "async_post_call_success_hook")
        self.failure = bind(callbacks, "async_post_call_failure_hook")
        self.stream_iterators = bind(callbacks, "async_post_call_streaming_iterator_hook")
        self.stream_chunks = bind(callbacks, "async_post_call_streaming_hook")
        self.response_headers = bind(callbacks, "async_post_call_response_headers_hook")
        self.has_request_hooks = bool(self.pre_call or self.moderation or self.success or self.failure
                                      or self.stream_iterators or self.stream_chunks or self.response_headers)
        self.has_stream_hooks = bool(self.stream_iterators or self.stream_chunks)

    # -- calling one hook -------------------------------------------------------
    async def _run(self, call: Call, stage: str, hook: BoundHook, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = hook(*args, **kwargs)
            if inspect.iscoroutine(result):
                result = await self._complete(result)
            elif inspect.isawaitable(result):
                async with asyncio.timeout(self.hook_timeout):
                    result = await result
        except TimeoutError:
            call.note(stage, hook.label, "timeout", started)
            self._count(hook)
            log.error("call %s: hook %s.%s timed out after %gs", call.label, hook.label, hook.name, self.hook_timeout)
            raise InternalError(f"Hook {hook.label}.{hook.name} timed out after {self.hook_timeout:g} s") from None
        except GatewayError as exc:
            call.note(stage, hook.label, f"raised {exc.status}", started)
            raise
        except Exception as exc:
            call.note(stage, hook.label, f"raised {type(exc).__name__}", started)
            if not is_http_exception(exc):
                self._count(hook)
                log.warning("call %s: hook %s.%s raised %s: %s", call.label, hook.label, hook.name,
                            type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            raise
        call.note(stage, hook.label, "ok" if result is None else "returned", started)
        return result

    async def _complete(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a hook's coroutine; the timeout is armed only if it suspends.

        Most hooks finish without waiting for anything: their first step runs
        here and no timer is scheduled. A hook that does wait is driven on
        under ``hook_timeout`` exactly as ``await`` would drive it.
        """
        try:
            yielded = coro.send(None)
        except StopIteration as finished:
            return finished.value
        except BaseException:
            coro.close()
            raise
        async with asyncio.timeout(self.hook_timeout):
            return await _Resumed(coro, yielded)

    def _count(self, hook: BoundHook) -> None:
        self.metrics.hook_errors.labels(hook.name, hook.label).inc()

    # -- stages -----------------------------------------------------------------
    async def run_pre_call(self, call: Call) -> dict[str, Any] | Rejection:
        """Pre-call hooks in order on ``call.data``; a returned dict replaces it (returned), a string rejects."""
        auth, cache, call_type, data = call.auth, self.cache, call.endpoint.call_type, call.data
        for hook in self.pre_call:
            try:
                result = await self._run(call, "pre_call", hook, auth, cache, data, call_type)
            except Exception as exc:
                raise user_error(exc) from exc
            if result is None:
                continue
            result = unwrap(result)
            if isinstance(result, dict):
                data = result
            elif isinstance(result, str):
                log.info("call %s: rejected by %s.async_pre_call_hook", call.label, hook.label)
                return Rejection(result)
            elif isinstance(result, BaseException):
                raise user_error(result) from result
            else:
                self._count(hook)
                raise InternalError(
                    f"Hook {hook.label}.async_pre_call_hook returned {type(result).__name__}; "
                    "it must return None, a dict, a string or an exception"
                )
        return data

    async def run_during(self, call: Call, upstream: Awaitable[T]) -> T:
        """The upstream call concurrently with every moderation hook; a block cancels the call."""
        if not self.moderation:
            return await upstream
        auth, call_type, data = call.auth, call.endpoint.call_type, call.data
        upstream_task = asyncio.ensure_future(upstream)
        checks = {asyncio.ensure_future(self._run(call, "during_call", h, data, auth, call_type)) for h in self.moderation}
        pending: set[asyncio.Future[Any]] = {upstream_task, *checks}
        try:
            while checks & pending or not upstream_task.done():
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception() is not None:
                        raise user_error(task.exception()) from task.exception()  # type: ignore[arg-type]
            return upstream_task.result()
        except BaseException:
            await _discard(upstream_task)
            raise
        finally:
            for task in pending:
                task.cancel()

    async def run_success(self, call: Call, response: dict[str, Any]) -> Any:
        """Success hooks in order; a non-None return replaces the response."""
        current: Any = ModelResponse(response)
        data = call.data
        for hook in self.success:
            try:
                result = await self._run(call, "post_call", hook, data, call.auth, current)
            except Exception as exc:
                raise user_error(exc) from exc
            if result is not None:
                current = result
        return unwrap(current)

    async def run_failure(self, call: Call, error: GatewayError, original: BaseException) -> GatewayError:
        """Every failure hook runs; the first HTTPException returned or raised replaces the error."""
        replacement: GatewayError | None = None
        data = call.data
        original = getattr(original, "hook_exception", None) or original  # what the hook raised, as in LiteLLM
        tb = "".join(traceback.format_exception(original)) if self.failure else None
        for hook in self.failure:
            try:
                result = await self._run(call, "failure", hook, data, original, call.auth, traceback_str=tb)
            except Exception as exc:
                if replacement is None and is_http_exception(exc):
                    replacement = from_exception(exc)
                continue
            if replacement is None and result is not None and is_http_exception(result):
                replacement = from_exception(result)
        return replacement or error

    async def run_response_headers(self, call: Call, response: Any) -> None:
        """Headers hooks add to ``call.response_headers``; their errors are logged and ignored."""
        data = call.data
        for hook in self.response_headers:
            try:
                headers = await self._run(call, "headers", hook, data, call.auth, response, dict(call.visible_headers()))
            except Exception:
                continue
            if isinstance(headers, dict):
                call.response_headers.update({str(k): str(v) for k, v in headers.items() if v is not None})


def user_error(exc: BaseException) -> GatewayError:
    """A hook's exception as the client's error; failure hooks still receive the hook's own
    exception (kept as ``hook_exception``)."""
    error = from_exception(exc)
    if error is not exc:
        error.hook_exception = exc  # type: ignore[attr-defined]
    return error


class _Resumed:
    """Awaitable that goes on with a coroutine already run up to its first suspension.

    It hands what the coroutine yielded (the future it waits on) to the task
    awaiting it, and passes every value or exception the task sends back to
    the coroutine — what ``await coro`` does, minus the first step.
    """

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro, self.yielded = coro, yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, value = self.coro, self.yielded
        while True:
            try:
                received = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation (the timeout) and other throws reach the hook
                try:
                    value = coro.throw(exc)
                except StopIteration as finished:
                    return finished.value
            else:
                try:
                    value = coro.send(received)
                except StopIteration as finished:
                    return finished.value


async def _discard(task: "asyncio.Future[Any]") -> None:
    """Cancel the upstream call, or close what it already opened (a stream)."""
    if not task.done():
        task.cancel()
        return
    if task.cancelled() or task.exception() is not None:
        return
    closer = getattr(task.result(), "aclose", None)
    if closer is not None:
        await closer()
