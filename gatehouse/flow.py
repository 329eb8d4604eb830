"""THE request path, for every LLM endpoint, top to bottom.

    authenticate → read body → validate → pre_call stage (rate limiter, hooks
    and pre_call guardrails, in order) → route + upstream call ∥ during_call
    stage (post-call rules inside the router's retry loop) → post_call stage
    → JSON answer, or the stream stage → SSE answer.
    Any error → failure stage → one renderer.

Endpoints differ only by their row in :mod:`gatehouse.endpoints`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import orjson

from .auth.authenticate import Authenticator
from .call import Call, Rejection, client_correlation_id, new_call_id
from .endpoints import Endpoint, validate_body
from .errors import (AuthenticationError, BadRequestError, GatewayError, InternalError, InvalidJSONError,
                     from_exception, render)
from .metrics import Metrics
from .policy.variants import PolicySet
from .policy.rules import PostCallRules
from .pricing.served import Served, answer_cost, cost_text
from .providers import Providers
from .answers import rejection_body, rejection_frames
from .replies import Inbound, JsonReply, Reply, StreamReply
from .response_cache import ResponseCache
from .routing.router import Router
from .streaming import ClientDisconnected
from .untrusted import safe_headers, strip_gateway_owned
from .usage import USAGE_OPERATIONS, ask_for_usage

__all__ = ["Flow", "FlowSettings", "INTERNAL_KEYS"]

log = logging.getLogger("gatehouse.flow")

#: Request keys that belong to the gateway, removed before the upstream call.
INTERNAL_KEYS = frozenset({
    "metadata", "litellm_metadata", "litellm_call_id", "litellm_trace_id", "proxy_server_request", "guardrails",
    "include_guardrail_response", "tags", "mock_response", "secret_fields", "litellm_logging_obj", "cache",
})
_TRANSPORT = frozenset({"api_version", "organization", "extra_headers", "stream_timeout", "max_retries",
                        "mock_response", "mock_delay", "mock_timeout"})


@dataclass(frozen=True, slots=True)
class FlowSettings:
    enforce_user_param: bool = False
    include_call_id_in_error_body: bool = False
    moderation_model: str | None = None
    hold_stream_for_rules: bool = False


class Flow:
    def __init__(
        self, *, auth: Authenticator, router: Router, providers: Providers, policies: PolicySet,
        rules: PostCallRules, guardrail_names: frozenset[str],
        check_guardrails: Callable[[dict[str, Any], frozenset[str]], None], metrics: Metrics,
        settings: FlowSettings, responses: ResponseCache | None = None, served: Mapping[str, Served] | None = None,
    ) -> None:
        self.auth, self.router, self.providers, self.policies = auth, router, providers, policies
        self.rules, self.metrics, self.settings = rules, metrics, settings
        self.guardrail_names = guardrail_names
        self.check_guardrails = check_guardrails
        self.responses = responses
        self.served: Mapping[str, Served] = served or {}
        self._defaults: dict[str, dict[str, Any]] = {}
        self._counters: dict[tuple[str, int], Any] = {}

    # -- the path ----------------------------------------------------------------
    async def handle(self, endpoint: Endpoint, inbound: Inbound) -> Reply:
        call = Call(new_call_id(), endpoint, inbound.route, inbound.headers)
        call.trace_id = client_correlation_id(inbound.headers)
        data: dict[str, Any] = {}
        authenticated = False
        try:
            call.auth = await self.auth.authenticate(inbound.headers, route=inbound.route, request=inbound)
            call.policy = self.policies.select(call.auth)
            authenticated = True
            body = await self._read(endpoint, inbound)
            if inbound.path_model:
                body["model"] = inbound.path_model
            data = call.data = self._prepare(call, body)
            outcome = await call.policy.pipeline.run_pre_call(call, data) if call.policy.pipeline.pre_call else data
            if isinstance(outcome, Rejection):
                return await self._rejected(call, data, outcome)
            data = call.data = outcome
            validate_body(endpoint, data)
            if call.stream:
                return await self._stream(call, data)
            response = await call.policy.pipeline.run_during(call, data, self._upstream(call, data))
            if call.policy.pipeline.success:
                response = await call.policy.pipeline.run_success(call, data, response)
            return await self._json(call, data, response)
        except Exception as exc:
            return await self._fail(call, data, exc, authenticated)
        except asyncio.CancelledError:  # the client went away: the upstream call is cancelled with us
            if authenticated:
                call.policy.logging.failure(call, data, ClientDisconnected())
            raise

    async def _read(self, endpoint: Endpoint, inbound: Inbound) -> dict[str, Any]:
        if endpoint.multipart:
            return await inbound.form()
        raw = await inbound.body()
        if not raw.strip():
            raise InvalidJSONError("the request body is empty; send a JSON object")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidJSONError(str(exc)) from None
        if not isinstance(body, dict):
            raise InvalidJSONError("expected an object")
        return body

    def _prepare(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        """Validate the body and make it the ``data`` hooks receive."""
        endpoint = call.endpoint
        if body.get("model") is None and endpoint.call_type == "moderation" and self.settings.moderation_model:
            body["model"] = self.settings.moderation_model
        validate_body(endpoint, body)
        call.model = body.get("model")
        call.stream = endpoint.can_stream and body.get("stream") is True
        auth = call.auth
        assert auth is not None
        if self.settings.enforce_user_param and "user" not in body:
            raise AuthenticationError("Authentication Error, 'user' param not passed in. 'enforce_user_param'=True")
        self.auth.check_model_access(auth, call.model)
        if self.guardrail_names or "guardrails" in body:
            self.check_guardrails(body, self.guardrail_names)
        found = body.get("metadata")
        if isinstance(found, dict) and found:
            strip_gateway_owned(found)  # gateway-owned fields are overwritten, never merged
        if not call.policy.decorate:
            return body
        call.auth = auth.for_request(end_user_id=body.get("user"), route=call.route)
        headers = call.visible_headers()
        metadata: dict[str, Any] = found if isinstance(found, dict) else {}
        metadata.update(call.auth.logging_fields())
        metadata.update(headers=headers, endpoint=call.route, call_type=endpoint.call_type)
        if "tags" in body and "tags" not in metadata:
            metadata["tags"] = body["tags"]
        body["metadata"] = metadata
        body["litellm_call_id"] = call.id
        body["litellm_trace_id"] = call.trace_id or call.id
        body["proxy_server_request"] = {"url": call.route, "method": "POST", "headers": dict(headers)}
        return body

    # -- the upstream call -----------------------------------------------------
    def _route(self, call: Call, data: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        model = data.get("model")
        if not isinstance(model, str) or not self.router.has_group(model):
            message = (f"{call.endpoint.path}: Invalid model name passed in model={model}. "
                       "Call `/v1/models` to view available models for your key.")
            raise BadRequestError(message, extra={"provider_specific_fields": {"error": message}})  # as LiteLLM
        call.model = model
        body = {k: v for k, v in data.items() if k not in INTERNAL_KEYS}
        return model, body, request_tags(data, call)

    def _body_for(self, body: dict[str, Any], deployment: Any, call: Call) -> dict[str, Any]:
        defaults = self._defaults.get(deployment.id)
        if defaults is None:
            defaults = self._defaults[deployment.id] = {
                k: v for k, v in deployment.params.items() if k not in _TRANSPORT
            }
        out = {**defaults, **body} if defaults else dict(body)
        out["model"] = deployment.upstream_model
        forwarded = forwarded_headers(self.providers[deployment], call.headers)
        if forwarded:
            out["extra_headers"] = {**(out.get("extra_headers") or {}), **forwarded}
        return out

    async def _upstream(self, call: Call, data: dict[str, Any]) -> dict[str, Any]:
        """The answer: from the response cache when it has one, else from the provider (then stored)."""
        model, body, tags = self._route(call, data)
        key = self.responses.key(call.endpoint.call_type, body) if self.responses is not None else None
        if key is None:
            return await self._call_upstream(call, data, model, body, tags)
        controls = data["cache"] if isinstance(data.get("cache"), dict) else {}
        cached = await self.responses.get(key, controls)  # type: ignore[union-attr]
        call.response_headers["x-litellm-cache-key"] = key
        if cached is not None:
            call.response_headers["x-gatehouse-cache"] = "hit"
            return orjson.loads(orjson.dumps(cached))  # hooks may change the answer; the entry stays as stored
        response = await self._call_upstream(call, data, model, body, tags)
        stored = await self.responses.put(key, orjson.loads(orjson.dumps(response)), controls)  # type: ignore[union-attr]
        call.response_headers["x-gatehouse-cache"] = "miss, stored" if stored else "miss"
        return response

    async def _call_upstream(
        self, call: Call, data: dict[str, Any], model: str, body: dict[str, Any], tags: list[str]
    ) -> dict[str, Any]:
        call.policy.logging.before_call(call, data)
        operation, check_rules = call.endpoint.operation, bool(self.rules) and call.endpoint.post_call_rules

        async def attempt(deployment: Any) -> dict[str, Any]:
            call.deployment_id = deployment.id
            try:
                answer = await self.providers[deployment].call(
                    operation, self._body_for(body, deployment, call), deployment, self.router.timeout_for(deployment)
                )
            except GatewayError as error:
                self.metrics.upstream_errors.labels(model, str(error.status)).inc()
                raise
            if check_rules:
                await self.rules.check(answer)
            return answer

        response = await self.router.run(model, attempt, tags=tags)
        if "model" in response:
            response["model"] = model
        return response

    async def _open_stream(self, call: Call, data: dict[str, Any]) -> Any:
        model, body, tags = self._route(call, data)
        if call.policy.logging.active and call.endpoint.operation in USAGE_OPERATIONS:  # spend, limits, logs count it
            call.hide_usage = not ask_for_usage(body)
        call.policy.logging.before_call(call, data)
        hold = self.settings.hold_stream_for_rules and bool(self.rules) and call.endpoint.post_call_rules

        async def attempt(deployment: Any) -> Any:
            call.deployment_id = deployment.id
            try:
                stream = await self.providers[deployment].stream(
                    call.endpoint.operation, self._body_for(body, deployment, call), deployment,
                    self.router.timeout_for(deployment, stream=True),
                )
            except GatewayError as error:
                self.metrics.upstream_errors.labels(model, str(error.status)).inc()
                raise
            stream.upstream_model = deployment.upstream_model
            return await call.policy.relay.held(stream, self.rules) if hold else stream

        return await self.router.run(model, attempt, tags=tags)

    # -- answers -----------------------------------------------------------------
    async def _stream(self, call: Call, data: dict[str, Any]) -> Reply:
        upstream = await call.policy.pipeline.run_during(call, data, self._open_stream(call, data))
        call.served = self.served.get(call.deployment_id or "")  # the cost is known at the end (logging stage)
        rules = self.rules if call.endpoint.post_call_rules and not self.settings.hold_stream_for_rules else None
        frames = await call.policy.relay.start(call, data, upstream, rules, on_error=self._stream_error)
        if call.policy.pipeline.response_headers:
            await call.policy.pipeline.run_response_headers(call, data, None)
        return StreamReply(self._headers(call, data), frames)

    async def _stream_error(self, call: Call, data: dict[str, Any], exc: BaseException) -> GatewayError:
        """An error after the first byte: failure hooks, log; the relay sends the SSE event."""
        error = from_exception(exc)
        if call.policy.pipeline.failure:
            error = await call.policy.pipeline.run_failure(call, data, error, exc)
        self._log_failure(call, error, exc)
        call.policy.logging.failure(call, data, error)
        return error

    async def _json(self, call: Call, data: dict[str, Any], response: Any) -> JsonReply:
        if isinstance(response, dict) and data.get("include_guardrail_response") is True:
            metadata = data.get("metadata") or {}
            response["guardrail_information"] = metadata.get("standard_logging_guardrail_information") or []
        call.served = self.served.get(call.deployment_id or "")
        call.cost = answer_cost(call.served, response)
        if call.policy.pipeline.response_headers:
            await call.policy.pipeline.run_response_headers(call, data, response)
        call.policy.logging.success(call, data, response)
        self._count(call, 200)
        if _guardrails_acted(data) and log.isEnabledFor(logging.INFO):  # a rewrite or a fail-open pass
            log.info("call %s %s → 200 guardrails: %s", call.label, call.route, _guardrail_records(data))
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("call %s %s → 200 model=%s deployment=%s guardrails: %s trace: %s", call.label, call.route,
                      call.model, call.deployment_id, _guardrail_records(data) or "none", call.trace_text() or "no hooks")
        return JsonReply(200, orjson.dumps(response), self._headers(call, data))

    async def _rejected(self, call: Call, data: dict[str, Any], rejection: Rejection) -> Reply:
        kind = call.endpoint.reject_as
        call.cost = 0.0
        if kind is None:
            raise BadRequestError(rejection.message)
        error = BadRequestError(rejection.message)
        if call.policy.pipeline.failure:
            replaced = await call.policy.pipeline.run_failure(call, data, error, error)
            if replaced is not error:
                return await self._fail(call, data, replaced, True)
        call.policy.logging.failure(call, data, error)
        if call.stream:
            return StreamReply(self._headers(call, data), rejection_frames(kind, rejection.message, call.model))
        return JsonReply(200, orjson.dumps(rejection_body(kind, rejection.message, call.model)), self._headers(call, data))

    async def _fail(self, call: Call, data: dict[str, Any], exc: BaseException, authenticated: bool) -> JsonReply:
        error = from_exception(exc)
        call.cost = 0.0
        if not isinstance(exc, GatewayError):
            log.error("call %s: internal error", call.label, exc_info=exc)
            error = InternalError(f"Internal server error (call id {call.id})")
        if authenticated and call.policy.pipeline.failure:
            error = await call.policy.pipeline.run_failure(call, data, error, exc)
        self._log_failure(call, error, exc)
        if authenticated and call.policy.pipeline.response_headers:
            await call.policy.pipeline.run_response_headers(call, data, None)
        headers = self._headers(call, data)
        if authenticated:
            call.policy.logging.failure(call, data, error)
        self._count(call, error.status)
        status, body, error_headers = render(error, call_id=call.id, include_call_id=self.settings.include_call_id_in_error_body)
        if error_headers:
            headers.update(safe_headers(error_headers.items()))
        return JsonReply(status, body, headers)

    def _count(self, call: Call, status: int) -> None:
        key = (call.endpoint.call_type, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.metrics.requests.labels(call.endpoint.call_type, str(status))
        counter.inc()

    def _log_failure(self, call: Call, error: GatewayError, exc: BaseException) -> None:
        if log.isEnabledFor(logging.INFO):
            trace = f" trace: {call.trace_text()}" if call.trace else ""
            records = _guardrail_records(call.data) if call.data else ""
            guardrails = f" guardrails: {records}" if records else ""
            log.info("call %s %s → %s %s: %s%s%s", call.label, call.route, error.status, error.error_type, error.message,
                     guardrails, trace)

    def _headers(self, call: Call, data: dict[str, Any]) -> dict[str, str]:
        """The gateway's response headers; values never carry a control character (CR/LF would split the answer)."""
        headers = {"x-litellm-call-id": call.id}
        if call.cost is not None:  # not on a stream: its cost is known only after the headers went out
            headers["x-litellm-response-cost"] = cost_text(call.cost)
        if call.deployment_id is not None:
            headers["x-litellm-model-id"] = call.deployment_id
        metadata = data.get("metadata") if call.policy is not None and call.policy.decorate else None
        applied = metadata.get("applied_guardrails") if isinstance(metadata, dict) else None
        if applied and isinstance(applied, list):
            headers["x-litellm-applied-guardrails"] = ",".join(str(name) for name in applied)
        elif not call.response_headers:
            return headers  # the gateway's own ids only: nothing to clean
        headers.update(call.response_headers)
        return safe_headers(headers.items())


_QUIET_STATUSES = frozenset({"success", "not_run"})


def _guardrails_acted(data: dict[str, Any]) -> bool:
    """Whether a guardrail changed something or failed (worth an INFO line on a success)."""
    metadata = data.get("metadata")
    records = metadata.get("standard_logging_guardrail_information") if isinstance(metadata, dict) else None
    return isinstance(records, list) and any(isinstance(r, dict) and r.get("guardrail_status") not in _QUIET_STATUSES
                                 for r in records)


def _guardrail_records(data: dict[str, Any]) -> str:
    """``name/mode=status`` for every guardrail that ran (the request log's view of the records)."""
    metadata = data.get("metadata")
    records = metadata.get("standard_logging_guardrail_information") if isinstance(metadata, dict) else None
    if not records:
        return ""
    return ", ".join(f"{r.get('guardrail_name')}/{r.get('guardrail_mode')}={r.get('guardrail_status')}"
                     for r in records if isinstance(r, dict))


def forwarded_headers(provider: Any, headers: Any) -> dict[str, str] | None:
    """The client headers a provider forwards upstream (its ``forwarded_headers``, e.g. ``anthropic-beta``)."""
    names = getattr(provider, "forwarded_headers", ())
    picked = {name: headers[name] for name in names if name in headers}
    return picked or None


def request_tags(data: dict[str, Any], call: Call) -> list[str]:
    """Routing tags: top-level ``tags``, else ``metadata.tags``, plus the key's tags."""
    tags = data.get("tags")
    if not tags:
        metadata = data.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
    out = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
    if call.auth is not None and call.auth.tags:
        out += [t for t in call.auth.tags if t not in out]
    return out
