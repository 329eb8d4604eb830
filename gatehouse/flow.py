"""THE request path, for every LLM endpoint, top to bottom.

    authenticate → read body → validate → pre_call stage (rate limiter, hooks
    and pre_call guardrails, in order) → upstream (route → response cache →
    provider → post-call rules) ∥ during_call stage → post_call stage
    → JSON answer, or the stream stage → SSE answer.
    Every exit, errors included → one ending (:meth:`Endings.finish`).

Endpoints differ only by their row in :mod:`gatehouse.endpoints` (and the
wire format it names); the upstream layer is :mod:`gatehouse.upstream`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import orjson

from .auth.authenticate import Authenticator
from .call import Call, Rejection, client_correlation_id, new_call_id
from .endings import Answered, Endings, Failed, Outcome, Rejected, Streaming
from .endpoints import Endpoint, validate_body
from .errors import AuthenticationError, BadRequestError
from .metrics import Metrics
from .policy.variants import PolicySet
from .pricing.served import Served
from .relay import StreamRelay
from .replies import Inbound, Reply
from .request_body import parse_json_object
from .untrusted import strip_gateway_owned
from .upstream import Upstream

__all__ = ["Flow", "FlowSettings"]


@dataclass(frozen=True, slots=True)
class FlowSettings:
    enforce_user_param: bool = False
    include_call_id_in_error_body: bool = False
    moderation_model: str | None = None


class Flow:
    def __init__(
        self, *, auth: Authenticator, upstream: Upstream, policies: PolicySet, guardrail_names: frozenset[str],
        check_guardrails: Callable[[dict[str, Any], frozenset[str]], None], metrics: Metrics,
        settings: FlowSettings, served: Mapping[str, Served] | None = None,
    ) -> None:
        self.auth, self.upstream, self.policies, self.settings = auth, upstream, policies, settings
        self.guardrail_names = guardrail_names
        self.check_guardrails = check_guardrails
        self.relay = StreamRelay()
        self.endings = Endings(metrics=metrics, include_call_id_in_error_body=settings.include_call_id_in_error_body,
                               served=served)

    # -- the path ----------------------------------------------------------------
    async def handle(self, endpoint: Endpoint, inbound: Inbound) -> Reply:
        """Serve one request; whatever happens, it ends in :meth:`Endings.finish`."""
        call = Call(new_call_id(), endpoint, inbound.route, inbound.headers, self.policies.unauthenticated)
        call.trace_id = client_correlation_id(inbound.headers)
        try:
            try:
                return await self.endings.finish(call, await self._serve(call, inbound))
            except Exception as exc:
                return await self.endings.finish(call, Failed(await self.endings.failure(call, exc)))
        except asyncio.CancelledError:  # the client went away: the upstream call is cancelled with us
            self.endings.disconnected(call)
            raise

    async def _serve(self, call: Call, inbound: Inbound) -> Outcome:
        """The stages, in order, up to the outcome (errors raise)."""
        endpoint = call.endpoint
        call.auth = await self.auth.authenticate(inbound.headers, route=inbound.route, request=inbound)
        call.policy = self.policies.select(call.auth)
        body = await self._read(call, inbound)
        if inbound.path_model:
            body["model"] = inbound.path_model
        call.data = self._prepare(call, body)
        pipeline = call.policy.pipeline
        if pipeline.pre_call:
            outcome = await pipeline.run_pre_call(call)
            if isinstance(outcome, Rejection):
                return await self._rejected(call, outcome)
            call.data = outcome
        validate_body(endpoint, call.data)
        if call.stream:
            stream = await pipeline.run_during(call, self.upstream.open_stream(call))
            return Streaming(await self.relay.start(call, stream, self.upstream.rules_after_stream(call)))
        response = await pipeline.run_during(call, self.upstream.answer(call))
        if pipeline.success:
            response = await pipeline.run_success(call, response)
        return Answered(response)

    async def _rejected(self, call: Call, rejection: Rejection) -> Outcome:
        """A pre-call hook's string: an answer in the endpoint's format (or a 400 where it has none)."""
        error = BadRequestError(rejection.message)
        answer = call.endpoint.format.rejection(rejection.message, call.model)
        if answer is None:
            raise error
        reported = await self.endings.failure(call, error)  # failure hooks may turn it into an error
        return Rejected(answer, error) if reported is error else Failed(reported)

    async def _read(self, call: Call, inbound: Inbound) -> dict[str, Any]:
        """The body, read within the limits; a model the key may not use is refused as soon as it is known."""
        assert call.auth is not None
        auth, check_access = call.auth, self.auth.check_model_access
        if inbound.path_model:
            check_access(auth, inbound.path_model)  # before a byte of the body is read
        if call.endpoint.multipart:
            return await inbound.form(lambda name, value: check_access(auth, value) if name == "model" else None)
        return parse_json_object(await inbound.body())

    def _prepare(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        """Validate the body and make it the ``data`` hooks receive."""
        endpoint = call.endpoint
        if body.get("model") is None and endpoint.call_type == "moderation" and self.settings.moderation_model:
            body["model"] = self.settings.moderation_model
        validate_body(endpoint, body)
        call.model = body.get("model")
        call.stream = endpoint.always_streams or (endpoint.can_stream and body.get("stream") is True)
        auth = call.auth
        assert auth is not None
        if self.settings.enforce_user_param and "user" not in body:
            raise AuthenticationError("Authentication Error, 'user' param not passed in. 'enforce_user_param'=True")
        self.auth.check_model_access(auth, call.model, self.upstream.names.group_of(call.model) if auth.models else None)
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
        if endpoint.format.metadata_fields:  # the format has a `metadata` of its own: LiteLLM's key for the gateway's
            body["litellm_metadata"] = metadata
        body["litellm_call_id"] = call.id
        body["litellm_trace_id"] = call.trace_id or call.id
        body["proxy_server_request"] = {"url": call.route, "method": "POST", "headers": dict(headers)}
        return body
