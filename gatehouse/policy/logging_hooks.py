"""The logging stage: LiteLLM's logging hooks, run in the background.

They never delay a response and their exceptions never fail it: each event
is a background task that runs the hooks in config order, one after the
other (sync twins in a worker thread), drained at shutdown. A slow hook
delays the hooks after it for that event only; events do not wait for each
other.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from datetime import datetime, timezone
from typing import Any, Sequence

from ..background import Background
from ..call import Call
from ..errors import GatewayError
from ..pricing.served import answer_cost, openai_usage
from .pipeline import BoundHook, bind

__all__ = ["LoggingHooks"]

log = logging.getLogger("gatehouse.policy")


class LoggingHooks:
    def __init__(self, callbacks: Sequence[tuple[str, object]], *, background: Background) -> None:
        self._background = background
        self.pre_api_call = bind(callbacks, "async_log_pre_api_call") + bind(callbacks, "log_pre_api_call")
        self.on_success = bind(callbacks, "async_log_success_event") + bind(callbacks, "log_success_event")
        self.on_failure = bind(callbacks, "async_log_failure_event") + bind(callbacks, "log_failure_event")
        self.on_stream = bind(callbacks, "async_log_stream_event") + bind(callbacks, "log_stream_event")
        self.active = bool(self.pre_api_call or self.on_success or self.on_failure or self.on_stream)

    def before_call(self, call: Call) -> None:
        if self.pre_api_call:
            self._spawn(self.pre_api_call, call, "pending", None, None)

    def success(self, call: Call, response: Any) -> None:
        """``response`` may be a zero-argument callable that builds it (streams)."""
        hooks = self.on_success + (self.on_stream if call.stream else ())
        if hooks:
            self._spawn(hooks, call, "success", response, None)

    def failure(self, call: Call, error: GatewayError) -> None:
        if self.on_failure:
            self._spawn(self.on_failure, call, "failure", None, error)

    def _spawn(self, hooks: tuple[BoundHook, ...], call: Call, status: str,
               response: Any, error: GatewayError | None) -> None:
        """One background task per event; the kwargs are built there, not on the hot path."""
        end = time.time()
        self._background.spawn(_emit(hooks, call, status, response, error, end), what=f"logging ({status})")


async def _emit(hooks: tuple[BoundHook, ...], call: Call, status: str,
                response: Any, error: GatewayError | None, end: float) -> None:
    if callable(response):  # a streamed response, assembled here rather than on the hot path
        response = response()
    data = call.data
    kwargs = event_kwargs(call, status=status, response=response, error=error, end=end)
    if status == "pending":
        calls = [_run(call, hook, (data.get("model"), data.get("messages"), kwargs)) for hook in hooks]
    else:
        args = (kwargs, response, _dt(call.started), _dt(end))
        calls = [_run(call, hook, args) for hook in hooks]
    for one in calls:  # in config order, one after the other in this event's task (as LiteLLM runs them)
        await one


async def _run(call: Call, hook: BoundHook, args: tuple[Any, ...]) -> None:
    """One logging hook (a sync twin in a worker thread); its errors are logged with its name."""
    try:
        if inspect.iscoroutinefunction(hook.fn):
            await hook(*args)
        else:
            result = await asyncio.to_thread(hook, *args)
            if inspect.isawaitable(result):
                await result
    except Exception as exc:
        log.warning("call %s: logging hook %s.%s raised %s: %s", call.label, hook.label, hook.name,
                    type(exc).__name__, exc)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def event_kwargs(
    call: Call, *, status: str, response: Any = None, error: GatewayError | None = None, end: float | None = None,
) -> dict[str, Any]:
    """LiteLLM's logging ``kwargs`` for ``call.data``, with a ``standard_logging_object``."""
    data = call.data
    found = data.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    if not metadata and call.auth is not None:  # failed before the request was read: who called is still known
        metadata = call.auth.logging_fields()
    usage = response.get("usage") if isinstance(response, dict) else None
    usage = openai_usage(usage) if isinstance(usage, dict) else {}
    end = end or time.time()
    cost = _cost(call, status, response)
    served = call.served
    standard = {
        "id": call.id,
        "trace_id": data.get("litellm_trace_id", call.id),
        "call_type": call.endpoint.call_type,
        "stream": call.stream,
        "status": status,
        "model": data.get("model"),
        "model_group": call.model,
        "model_id": call.deployment_id,
        "startTime": call.started,
        "endTime": end,
        "response_time": end - call.started,
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": usage.get("completion_tokens", 0),
        "total_tokens": usage.get("total_tokens", 0),
        "response_cost": cost,
        "custom_llm_provider": served.provider if served else None,
        "api_base": served.api_base if served else None,
        "hidden_params": {"model_id": call.deployment_id, "api_base": served.api_base if served else None,
                          "response_cost": cost, "litellm_model_name": served.model if served else None},
        "cache_hit": call.response_headers.get("x-gatehouse-cache") == "hit",
        "end_user": metadata.get("user_api_key_end_user_id") or data.get("user"),
        "metadata": {k: v for k, v in metadata.items() if k.startswith("user_api_key")},
        "request_tags": metadata.get("tags") or data.get("tags") or [],
        "messages": data.get("messages"),
        "response": response,
        "error_str": error.message if error else None,
        "error_information": {"error_code": str(error.status), "error_class": type(error).__name__} if error else None,
        "guardrail_information": metadata.get("standard_logging_guardrail_information"),
        "gatehouse_trace": list(call.trace),
    }
    return {
        "model": data.get("model"),
        "messages": data.get("messages"),
        "input": data.get("input"),
        "prompt": data.get("prompt"),
        "guardrails": data.get("guardrails"),
        "litellm_call_id": call.id,
        "litellm_trace_id": data.get("litellm_trace_id", call.id),
        "call_type": call.endpoint.call_type,
        "stream": call.stream,
        "litellm_params": {"metadata": metadata},
        "metadata": metadata,
        "start_time": _dt(call.started),
        "end_time": _dt(end),
        "response_cost": cost,
        "exception": error,
        "standard_logging_object": standard,
    }


def _cost(call: Call, status: str, response: Any) -> float:
    """The answer's cost: set by the flow, else (a stream, priced at its end) from its assembled usage."""
    if status != "success":
        return 0.0
    if call.cost is None:
        call.cost = answer_cost(call.served, response)
    return call.cost
