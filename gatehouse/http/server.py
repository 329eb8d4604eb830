"""The aiohttp application: routes from the endpoint table, one error renderer.

Every LLM endpoint is served by :meth:`gatehouse.flow.Flow.handle`, with and
without the ``/v1`` prefix. Admin and operational routes (keys, models,
health, metrics, docs) live here too; errors outside the flow are rendered
in OpenAI's format by :func:`error_middleware` (the flow renders its own in
the endpoint's format).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError

from .. import __version__
from ..endpoints import ENDPOINTS, Endpoint
from ..errors import GatewayError, InternalError, NotFoundError, PayloadTooLargeError
from ..formats.base import Format, render_error
from ..formats.openai_common import OPENAI
from .anthropic_routes import ANTHROPIC_PATHS, anthropic_routes
from .models import model_routes
from .openapi import docs_routes
from .passthrough import passthrough_routes
from ..request_body import BodyLimits, FieldCheck, read_body, read_form
from ..replies import SSE_HEADERS, JsonReply, Reply, StreamInterrupted
from ..ui import install_ui

__all__ = ["build_application", "AiohttpInbound"]

log = logging.getLogger("gatehouse.server")

GATEWAY_KEY: web.AppKey[Any] = web.AppKey("gateway", object)
#: Endpoints also served as ``/openai/deployments/{model}/...`` and ``/engines/{model}/...``.
AZURE_STYLE = frozenset({"/chat/completions", "/completions", "/embeddings", "/images/generations",
                         "/audio/transcriptions", "/audio/translations", "/audio/speech"})
#: The format errors are rendered in, by path, outside the flow (a 405, a 413, a route's own errors).
_PATH_FORMATS: dict[str, Format] = {
    **{prefix + e.path: e.format for e in ENDPOINTS for prefix in ("", "/v1")},
    **{path: next(e.format for e in ENDPOINTS if e.call_type == "anthropic_messages") for path in ANTHROPIC_PATHS},
}


class AiohttpInbound:
    """:class:`gatehouse.replies.Inbound` over an aiohttp request (read within :class:`BodyLimits`)."""

    __slots__ = ("request", "route", "headers", "limits", "path_model")

    def __init__(self, request: web.Request, limits: BodyLimits) -> None:
        self.request = request
        self.route = request.path
        self.headers = request.headers
        self.limits = limits
        self.path_model = request.match_info.get("model")

    async def body(self) -> bytes:
        return await read_body(self.request, self.limits)

    async def form(self, check: FieldCheck | None = None) -> dict[str, Any]:
        return await read_form(self.request, self.limits, check)


async def write_reply(request: web.Request, reply: Reply) -> web.StreamResponse:
    if isinstance(reply, JsonReply):
        headers = reply.headers
        if any(name.lower() == "content-type" for name in headers):  # a stream's own type (audio): not this JSON's
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        return web.Response(body=reply.body, status=reply.status, headers=headers, content_type="application/json")
    response = web.StreamResponse(status=reply.status, headers={**SSE_HEADERS, **reply.headers})
    frames = reply.frames
    try:
        await response.prepare(request)
        async for frame in frames:
            await response.write(frame)
        await response.write_eof()
    except (ConnectionResetError, ClientConnectionResetError):
        log.debug("client went away during a stream")
    except StreamInterrupted:  # an opaque answer failed mid-way: an incomplete answer, never a complete-looking one
        if request.transport is not None:
            request.transport.close()
    finally:
        await frames.aclose()  # type: ignore[attr-defined]
    return response


def llm_handler(gateway: Any, endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    flow, limits = gateway.flow, gateway.limits.body

    async def handler(request: web.Request) -> web.StreamResponse:
        return await write_reply(request, await flow.handle(endpoint, AiohttpInbound(request, limits)))

    return handler


@web.middleware
async def error_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    fmt = _PATH_FORMATS.get(request.path, OPENAI)
    try:
        return await handler(request)
    except GatewayError as exc:
        return _error_response(exc, fmt)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return _error_response(NotFoundError(f"No route for {request.method} {request.path}"), fmt)
        if exc.status == 413:
            return _error_response(PayloadTooLargeError(exc.reason), fmt)
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None  # a 405 says what is allowed
        return _error_response(GatewayError(exc.reason, status=exc.status, headers=allow), fmt)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(InternalError("Internal server error"), fmt)


def _error_response(error: GatewayError, fmt: Format = OPENAI) -> web.Response:
    status, body, headers = render_error(fmt, error)
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def build_application(gateway: Any) -> web.Application:
    """The application for one gateway (routes are a table, not copies)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=gateway.config.max_request_bytes)
    app[GATEWAY_KEY] = gateway
    passthrough_routes(app, gateway, exact=True)  # an operator's exact path wins over a unified endpoint
    for endpoint in ENDPOINTS:
        handler = llm_handler(gateway, endpoint)
        app.router.add_post(endpoint.path, handler)
        app.router.add_post("/v1" + endpoint.path, handler)
        for path in endpoint.also:
            app.router.add_post(path, handler)
        if endpoint.path in AZURE_STYLE:  # the path names the model (Azure OpenAI SDK, old engines API)
            app.router.add_post("/openai/deployments/{model}" + endpoint.path, handler)
            app.router.add_post("/engines/{model}" + endpoint.path, handler)
    app.router.add_routes(anthropic_routes(gateway))
    app.router.add_routes(model_routes(gateway))
    app.router.add_routes(ops_routes(gateway))
    app.router.add_routes(gateway.key_routes)
    app.router.add_routes(docs_routes(gateway.router.group_names(), sorted(gateway.flow.guardrail_names)))
    install_ui(app, gateway)
    passthrough_routes(app, gateway, exact=False)  # /anthropic/*, /openai/*, ...: after every specific route
    return app


def ops_routes(gateway: Any) -> list[web.RouteDef]:
    async def model_info(request: web.Request) -> web.Response:
        identity = await gateway.auth.authenticate(request.headers, route=request.path, request=request)
        allowed, admin = identity.models, identity.user_role == "proxy_admin"
        data = [
            {"model_name": d.model_name, "model_info": {**dict(d.model_info), "id": d.id},
             "litellm_params": {"model": f"{d.provider}/{d.upstream_model}", "tags": list(d.tags),
                                **({"api_base": d.api_base} if admin else {}),  # where upstreams live: admins only
                                **({"timeout": d.timeout} if d.timeout else {})}}
            for name in gateway.router.group_names() if not allowed or name in allowed or "all-proxy-models" in allowed
            for d in gateway.router.deployments(name)
        ]
        return _json({"data": data})

    async def liveliness(request: web.Request) -> web.Response:
        return _json("I'm alive!")

    async def readiness(request: web.Request) -> web.Response:
        report = await gateway.readiness()
        return _json(report, 200 if report["status"] == "healthy" else 503)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=gateway.metrics.render(), content_type="text/plain")

    async def root(request: web.Request) -> web.Response:
        return _json({"name": "gatehouse", "version": __version__, "docs": "/docs", "models": "/v1/models"})

    return [
        web.get("/model/info", model_info), web.get("/v1/model/info", model_info),
        web.get("/health/liveliness", liveliness), web.get("/health/liveness", liveliness),
        web.get("/health/readiness", readiness), web.get("/health", readiness),
        web.get("/metrics", metrics), web.get("/", root),
    ]
