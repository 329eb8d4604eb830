"""How every request ends: one :meth:`Endings.finish` for every exit of the flow.

    finish(call, outcome)        outcome: Answered | Rejected | Failed | Streaming
      1. response-headers hooks  (with the answer; ``None`` for errors, rejections and streams)
      2. response headers        x-litellm-call-id, x-litellm-model-id, -model-group, -attempted-retries,
                                 -attempted-fallbacks, x-litellm-response-cost (the answer's cost; 0 for errors
                                 and rejections; none on a stream, priced at its end), applied guardrails,
                                 the hooks' own
      3. the request counter     gatehouse_requests_total{endpoint, status} (a stream counts as its 200)
      4. logging hooks           success or failure (a stream's when it ends)
      5. the request log         one line: INFO when something failed or a guardrail acted, else DEBUG
      6. the reply               in the endpoint's wire format

:meth:`Endings.failure` turns any exception into the client's error and runs
the failure hooks, before the first byte or after it. A stream that has
started ends in :meth:`Endings._tail`: logging hooks and the request log once
the last frame is out; an error after the first byte → failure hooks, one
error event, the end of the stream; a client that went away → the failure
logging hooks receive :class:`~gatehouse.errors.ClientDisconnected`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Mapping

import orjson

from .call import Call
from .errors import BadRequestError, ClientDisconnected, GatewayError, InternalError, from_exception
from .formats.base import render_error
from .metrics import Metrics
from .pricing.served import Served, answer_cost, cost_text
from .relay import Relayed
from .replies import JsonReply, Reply, StreamInterrupted, StreamReply
from .untrusted import safe_headers

__all__ = ["Endings", "Outcome", "Answered", "Rejected", "Failed", "Streaming"]

log = logging.getLogger("gatehouse.flow")


@dataclass(slots=True)
class Answered:
    """A complete answer (after the post_call stage)."""

    response: Any


@dataclass(slots=True)
class Rejected:
    """A pre-call hook answered with a string: a 200 in the endpoint's format."""

    answer: dict[str, Any]
    error: BadRequestError
    """What failure logging hooks receive (as LiteLLM reports a rejection)."""


@dataclass(slots=True)
class Failed:
    """An error before the first byte (failure hooks already ran: :meth:`Endings.failure`)."""

    error: GatewayError


@dataclass(slots=True)
class Streaming:
    """A stream whose first frame is ready."""

    relayed: Relayed
    status: int = 200
    """The answer's status (a pass-through route relays its upstream's 2xx as it is)."""


Outcome = Answered | Rejected | Failed | Streaming


class Endings:
    def __init__(self, *, metrics: Metrics, include_call_id_in_error_body: bool = False,
                 served: Mapping[str, Served] | None = None) -> None:
        self.metrics = metrics
        self.served: Mapping[str, Served] = served or {}
        self.include_call_id = include_call_id_in_error_body
        self._counters: dict[tuple[str, int], Any] = {}

    async def finish(self, call: Call, outcome: Outcome) -> Reply:
        """The one ending (module docstring); raises only if an answer cannot be serialised."""
        response = outcome.response if isinstance(outcome, Answered) else None
        body = self._body(call, outcome)  # first: an answer that cannot be serialised fails before anything counts
        call.served = self.served.get(call.deployment_id or "")
        if not isinstance(outcome, Streaming):  # a stream's cost is known at its end (the logging stage prices it)
            call.cost = answer_cost(call.served, response)
        pipeline = call.policy.pipeline
        if pipeline.response_headers:
            await pipeline.run_response_headers(call, response)
        headers = self._headers(call)
        status = outcome.error.status if isinstance(outcome, Failed) else getattr(outcome, "status", 200)
        self._count(call, status)
        if isinstance(outcome, Answered):
            call.policy.logging.success(call, response)
        elif isinstance(outcome, (Rejected, Failed)):
            call.policy.logging.failure(call, outcome.error)
        if isinstance(outcome, Streaming):
            return StreamReply(headers, self._tail(call, outcome.relayed), outcome.status)
        self._log(call, status, outcome.error if isinstance(outcome, Failed) else None)
        if isinstance(outcome, Rejected) and call.stream:
            return StreamReply(headers, _replay(call, outcome.answer))
        if isinstance(outcome, Failed):
            if outcome.error.headers:
                headers.update(safe_headers(outcome.error.headers.items()))
            return JsonReply(status, body, headers)
        return JsonReply(200, body, headers)

    def _body(self, call: Call, outcome: Outcome) -> bytes:
        if isinstance(outcome, Answered):
            response = outcome.response
            if isinstance(response, dict) and call.data.get("include_guardrail_response") is True:
                metadata = call.data.get("metadata") or {}
                response["guardrail_information"] = metadata.get("standard_logging_guardrail_information") or []
            return orjson.dumps(response)
        if isinstance(outcome, Rejected) and not call.stream:
            return orjson.dumps(outcome.answer)
        if isinstance(outcome, Failed):
            shown = call.id if self.include_call_id else None
            return render_error(call.endpoint.format, outcome.error, call_id=shown)[1]
        return b""

    async def failure(self, call: Call, exc: BaseException) -> GatewayError:
        """The client's error for ``exc`` (a bug is a 500 naming the call id), after the failure hooks."""
        error = from_exception(exc)
        if not isinstance(exc, GatewayError):
            log.error("call %s: internal error", call.label, exc_info=exc)
            error = InternalError(f"Internal server error (call id {call.id})")
        if call.policy.pipeline.failure:
            error = await call.policy.pipeline.run_failure(call, error, exc)
        return error

    def disconnected(self, call: Call) -> None:
        """The client went away before the answer was complete."""
        call.policy.logging.failure(call, ClientDisconnected())
        log.debug("call %s %s: the client went away", call.label, call.route)

    async def _tail(self, call: Call, relayed: Relayed) -> AsyncIterator[bytes]:
        """A started stream's frames, then its ending (module docstring)."""
        events = call.endpoint.format.stream
        assert events is not None
        ended = False
        try:
            if relayed.first is not None:
                yield relayed.first
            async for frame in relayed.rest:
                yield frame
            ended = True
            call.policy.logging.success(call, relayed.assembled)  # assembled in the background, if anyone listens
            self._log(call, 200, None)
        except Exception as exc:
            ended = True
            error = await self.failure(call, exc)
            call.policy.logging.failure(call, error)
            self._log(call, error.status, error)
            if getattr(events, "opaque", False):  # no room for an error event: the writer breaks the connection
                raise StreamInterrupted(error.message) from exc
            yield events.frame(call.endpoint.format.error_body(error))
        finally:
            await relayed.aclose()
            if not ended:
                self.disconnected(call)
        if events.end:
            yield events.end

    def _count(self, call: Call, status: int) -> None:
        key = (call.endpoint.call_type, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.metrics.requests.labels(call.endpoint.call_type, str(status))
        counter.inc()

    def _headers(self, call: Call) -> dict[str, str]:
        """The gateway's response headers; values never carry a control character (CR/LF would split the answer)."""
        headers = {"x-litellm-call-id": call.id}
        if call.cost is not None:
            headers["x-litellm-response-cost"] = cost_text(call.cost)
        if call.deployment_id is not None:
            headers["x-litellm-model-id"] = call.deployment_id
        if call.tried:  # the group that answered, and what it took (LiteLLM's fallback headers)
            headers["x-litellm-model-group"] = call.tried[-1]
            headers["x-litellm-attempted-retries"] = str(len(call.tried) - 1)
            headers["x-litellm-attempted-fallbacks"] = str(len(dict.fromkeys(call.tried)) - 1)
        metadata = call.data.get("metadata") if call.policy.decorate else None
        applied = metadata.get("applied_guardrails") if isinstance(metadata, dict) else None
        if applied and isinstance(applied, list):
            headers["x-litellm-applied-guardrails"] = ",".join(str(name) for name in applied)
        elif not call.response_headers:
            return headers  # the gateway's own ids only: nothing to clean
        headers.update(call.response_headers)
        return safe_headers(headers.items())

    def _log(self, call: Call, status: int, error: GatewayError | None) -> None:
        """The request log's one line for this call."""
        if error is not None:
            if log.isEnabledFor(logging.INFO):
                trace = f" trace: {call.trace_text()}" if call.trace else ""
                records = _guardrail_records(call.data)
                guardrails = f" guardrails: {records}" if records else ""
                log.info("call %s %s → %s %s: %s%s%s", call.label, call.route, error.status, error.error_type,
                         error.message, guardrails, trace)
        elif _guardrails_acted(call.data) and log.isEnabledFor(logging.INFO):  # a rewrite or a fail-open pass
            log.info("call %s %s → %s guardrails: %s", call.label, call.route, status, _guardrail_records(call.data))
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("call %s %s → %s model=%s deployment=%s guardrails: %s trace: %s", call.label, call.route, status,
                      call.model, call.deployment_id, _guardrail_records(call.data) or "none",
                      call.trace_text() or "no hooks")


async def _replay(call: Call, answer: dict[str, Any]) -> AsyncIterator[bytes]:
    """A complete answer (a rejection) as a stream in the endpoint's format."""
    events = call.endpoint.format.stream
    assert events is not None
    for event in events.from_answer(answer):
        yield events.frame(event)
    if events.end:
        yield events.end


_QUIET_STATUSES = frozenset({"success", "not_run"})


def _records(data: dict[str, Any]) -> list[Any]:
    metadata = data.get("metadata")
    records = metadata.get("standard_logging_guardrail_information") if isinstance(metadata, dict) else None
    return records if isinstance(records, list) else []


def _guardrails_acted(data: dict[str, Any]) -> bool:
    """Whether a guardrail changed something or failed (worth an INFO line on a success)."""
    return any(isinstance(r, dict) and r.get("guardrail_status") not in _QUIET_STATUSES for r in _records(data))


def _guardrail_records(data: dict[str, Any]) -> str:
    """``name/mode=status`` for every guardrail that ran (the request log's view of the records)."""
    return ", ".join(f"{r.get('guardrail_name')}/{r.get('guardrail_mode')}={r.get('guardrail_status')}"
                     for r in _records(data) if isinstance(r, dict))
