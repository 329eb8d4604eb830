"""Anthropic's routes besides ``/v1/messages`` (an endpoint row, served by the flow).

* ``POST /v1/messages/count_tokens`` (and ``/messages/count_tokens``): ``{"input_tokens": n}``.
  Counted by the model group's first deployment that speaks Anthropic's Messages API natively
  and serves the count (``anthropic/``); otherwise estimated by the gateway (about four
  characters per token: :func:`~gatehouse.formats.anthropic.messages.estimate_input_tokens`).
  A count is not a model call: no hooks, guardrails, limits or spend; the key must be
  valid and allowed the model.
* ``POST /api/event_logging/batch``: Claude Code's telemetry, acknowledged and dropped
  (``{"status": "ok"}``), as LiteLLM does.

Errors are Anthropic's error body (the server's middleware renders errors on
these paths in the ``/v1/messages`` format).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from ..errors import BadRequestError, GatewayError, InvalidJSONError, UpstreamError
from ..formats.anthropic.messages import MESSAGES, estimate_input_tokens
from ..params import GATEWAY_KEYS
from ..providers.base import NativeRequest, speaks_natively
from ..routing.names import concrete_model

__all__ = ["anthropic_routes", "ANTHROPIC_PATHS"]

log = logging.getLogger("gatehouse.server")

COUNT_PATHS = ("/v1/messages/count_tokens", "/messages/count_tokens")
#: Paths outside the endpoint table whose errors are rendered in Anthropic's format.
ANTHROPIC_PATHS = frozenset({*COUNT_PATHS, "/api/event_logging/batch"})


def _json(payload: Any) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as exc:
        raise InvalidJSONError(str(exc)) from None
    if not isinstance(body, dict):
        raise InvalidJSONError("expected an object")
    if not isinstance(body.get("model"), str):
        raise BadRequestError("model: a string is required", param="model")
    if not isinstance(body.get("messages"), list):
        raise BadRequestError("messages: a list of messages is required", param="messages")
    return body


async def count_tokens(gateway: Any, request: web.Request) -> web.Response:
    identity = await gateway.auth.authenticate(request.headers, route=request.path, request=request)
    body = await _body(request)
    model = body["model"]
    names = gateway.names
    gateway.auth.check_model_access(identity, model, names.group_of(model) if identity.models else None)
    resolved = names.resolve(model)
    if resolved is None or not gateway.router.has_group(resolved.group):
        raise BadRequestError(f"anthropic_messages: Invalid model name passed in model={model}. "
                              "Call `/v1/models` to view available models for your key.")
    counted = await _native_count(gateway, request, resolved, {k: v for k, v in body.items() if k not in GATEWAY_KEYS})
    return _json({"input_tokens": counted if counted is not None else estimate_input_tokens(body)})


async def _native_count(gateway: Any, request: web.Request, resolved: Any, body: dict[str, Any]) -> int | None:
    """The count from the group's first native deployment that answers one; ``None``: estimate it."""
    for deployment in gateway.router.deployments(resolved.group):
        provider = gateway.providers[deployment]
        if gateway.router.cooling(deployment) or not speaks_natively(provider, MESSAGES.name, deployment):
            continue
        if resolved.wildcard and "*" in deployment.upstream_model:
            deployment = gateway.providers.concrete(
                deployment, concrete_model(deployment.upstream_model, resolved.captured, deployment.provider))
        native = NativeRequest(MESSAGES.name, "messages/count_tokens", {**body, "model": deployment.upstream_model},
                               request.headers)
        try:
            answer = await provider.native_call(native, deployment, gateway.router.timeout_for(deployment))
        except UpstreamError as error:
            if 400 <= error.status < 500 and error.status != 404:
                raise  # the request's fault: the client should know
            log.debug("count_tokens: deployment '%s' did not count (%s); estimating", deployment.model_name, error)
            return None
        except GatewayError as error:
            log.debug("count_tokens: deployment '%s' did not count (%s); estimating", deployment.model_name, error)
            return None
        counted = answer.get("input_tokens") if isinstance(answer, dict) else None
        return counted if isinstance(counted, int) and not isinstance(counted, bool) else None
    return None


def anthropic_routes(gateway: Any) -> list[web.RouteDef]:
    async def count(request: web.Request) -> web.Response:
        return await count_tokens(gateway, request)

    async def event_logging(request: web.Request) -> web.Response:
        await gateway.auth.authenticate(request.headers, route=request.path, request=request)
        return _json({"status": "ok"})

    return [*(web.post(path, count) for path in COUNT_PATHS), web.post("/api/event_logging/batch", event_logging)]
