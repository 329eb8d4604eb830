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
from ..errors import BadRequestError, GatewayError, InternalError, NotFoundError, PayloadTooLargeError
from ..formats.base import render_error
from ..formats.openai_common import OPENAI
from .openapi import docs_routes
from .passthrough import passthrough_routes
from ..providers.base import UploadFile
from ..replies import SSE_HEADERS, JsonReply, Reply, StreamInterrupted
from ..ui import install_ui

__all__ = ["build_application", "AiohttpInbound"]

log = logging.getLogger("gatehouse.server")

GATEWAY_KEY: web.AppKey[Any] = web.AppKey("gateway", object)
#: Endpoints also served as ``/openai/deployments/{model}/...`` and ``/engines/{model}/...``.
AZURE_STYLE = frozenset({"/chat/completions", "/completions", "/embeddings", "/images/generations",
                         "/audio/transcriptions", "/audio/translations", "/audio/speech"})


class AiohttpInbound:
    """:class:`gatehouse.replies.Inbound` over an aiohttp request."""

    __slots__ = ("request", "route", "headers", "limit", "path_model")

    def __init__(self, request: web.Request, limit: int) -> None:
        self.request = request
        self.route = request.path
        self.headers = request.headers
        self.limit = limit
        self.path_model = request.match_info.get("model")

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(f"Request body too large: the limit is {self.limit} bytes")

    async def body(self) -> bytes:
        length = self.request.content_length
        if length is not None and length > self.limit:
            raise self._too_large()
        try:
            return await self.request.read()
        except web.HTTPRequestEntityTooLarge:
            raise self._too_large() from None

    async def form(self) -> dict[str, Any]:
        length = self.request.content_length
        if length is not None and length > self.limit:
            raise self._too_large()
        if not self.request.content_type.startswith("multipart/"):
            raise BadRequestError("this endpoint takes a multipart/form-data body", param="request_body")
        fields: dict[str, Any] = {}
        size = 0
        try:
            reader = await self.request.multipart()
            while (part := await reader.next()) is not None:
                data = await part.read()  # type: ignore[union-attr]
                size += len(data)
                if size > self.limit:
                    raise self._too_large()
                name = part.name or ""  # type: ignore[union-attr]
                if part.filename:  # type: ignore[union-attr]
                    ctype = part.headers.get("Content-Type", "application/octet-stream")  # type: ignore[union-attr]
                    fields[name] = UploadFile(part.filename, ctype, bytes(data))  # type: ignore[union-attr]
                elif name.endswith("[]"):  # form arrays (`guardrails[]`, `timestamp_granularities[]`): a list
                    fields.setdefault(name[:-2], []).append(_form_value(bytes(data).decode("utf-8", "replace")))
                else:
                    fields[name] = _form_value(bytes(data).decode("utf-8", "replace"))
        except (ValueError, AssertionError) as exc:
            raise BadRequestError(f"Invalid multipart body: {exc}", param="request_body") from None
        return fields


def _form_value(text: str) -> Any:
    """Form fields are strings; JSON objects (``metadata``) and numbers are decoded."""
    if text[:1] in ("{", "["):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
    return text


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
    flow, limit = gateway.flow, gateway.config.max_request_bytes

    async def handler(request: web.Request) -> web.StreamResponse:
        return await write_reply(request, await flow.handle(endpoint, AiohttpInbound(request, limit)))

    return handler


@web.middleware
async def error_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    try:
        return await handler(request)
    except GatewayError as exc:
        return _error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return _error_response(NotFoundError(f"No route for {request.method} {request.path}"))
        return _error_response(GatewayError(exc.reason, status=exc.status))
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(InternalError("Internal server error"))


def _error_response(error: GatewayError) -> web.Response:
    status, body, headers = render_error(OPENAI, error)
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
    app.router.add_routes(ops_routes(gateway))
    app.router.add_routes(gateway.key_routes)
    app.router.add_routes(docs_routes())
    install_ui(app, gateway)
    passthrough_routes(app, gateway, exact=False)  # /anthropic/*, /openai/*, ...: after every specific route
    return app


def ops_routes(gateway: Any) -> list[web.RouteDef]:
    async def models(request: web.Request) -> web.Response:
        identity = await gateway.auth.authenticate(request.headers, route=request.path, request=request)
        names = [n for n in gateway.router.group_names() if not identity.models or n in identity.models
                 or "all-proxy-models" in identity.models]
        data = [{"id": n, "object": "model", "created": 1677610602, "owned_by": "gatehouse"} for n in names]
        return _json({"object": "list", "data": data})

    async def model_info(request: web.Request) -> web.Response:
        identity = await gateway.auth.authenticate(request.headers, route=request.path, request=request)
        allowed = identity.models
        data = [
            {"model_name": d.model_name, "model_info": {**dict(d.model_info), "id": d.id},
             "litellm_params": {"model": f"{d.provider}/{d.upstream_model}", "api_base": d.api_base,
                                "tags": list(d.tags), **({"timeout": d.timeout} if d.timeout else {})}}
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
        web.get("/models", models), web.get("/v1/models", models),
        web.get("/model/info", model_info), web.get("/v1/model/info", model_info),
        web.get("/health/liveliness", liveliness), web.get("/health/liveness", liveliness),
        web.get("/health/readiness", readiness), web.get("/health", readiness),
        web.get("/metrics", metrics), web.get("/", root),
    ]
