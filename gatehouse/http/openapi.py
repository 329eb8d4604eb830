"""The OpenAPI document (built from the endpoint table) and the ``/docs`` page.

Swagger UI's assets ship in the ``swagger-ui-bundle`` package and are served
locally: the page works without internet access. That Swagger UI (4.x) reads
OpenAPI 3.0 and shows "Unable to render this definition" for a 3.1 document,
so the document is OpenAPI 3.0.3 (``nullable: true`` rather than 3.1's
``type: [..., "null"]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import orjson
from aiohttp import web

from .. import __version__
from ..endpoints import ENDPOINTS
from .openapi_schemas import KEY_ROUTES, error_response, request_schema, success_response

__all__ = ["openapi_document", "docs_routes", "OPENAPI_VERSION"]

#: What the bundled Swagger UI renders (4.x: 3.0 only).
OPENAPI_VERSION = "3.0.3"

def openapi_document(models: Sequence[str] = (), guardrails: Sequence[str] = ()) -> dict[str, Any]:
    """The document for a gateway with these model groups and guardrails (schemas: :mod:`.openapi_schemas`)."""
    error = error_response()
    paths: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        media = "multipart/form-data" if endpoint.multipart else "application/json"
        operation = {
            "summary": f"{endpoint.path} (call_type {endpoint.call_type})",
            "security": [{"bearer": []}],
            "requestBody": {"required": True, "content": {media: {"schema": request_schema(endpoint, models, guardrails)}}},
            "responses": {"200": success_response(endpoint), "default": error_response(endpoint)},
        }
        paths["/v1" + endpoint.path] = {"post": operation}
        for also in endpoint.also:
            paths[also] = {"post": operation}
    for path, summary in (
        ("/v1/models", "Model groups this key may call"), ("/health/liveliness", "Liveness"),
        ("/health/readiness", "Readiness (database, cache)"), ("/metrics", "Prometheus metrics"),
        ("/v1/model/info", "Deployments this key may call (no credentials)"),
        ("/key/info", "Virtual key details (master key)"), ("/key/list", "Virtual keys (master key)"),
    ):
        paths[path] = {"get": {"summary": summary, **KEY_ROUTES.get(path, {}),
                               "responses": {"200": {"description": "OK"}, "default": error}}}
    for path, summary in (
        ("/key/generate", "Create a virtual key (master key)"), ("/key/update", "Change a virtual key (master key)"),
        ("/key/delete", "Delete virtual keys (master key)"),
        ("/key/block", "Block a virtual key (master key)"), ("/key/unblock", "Unblock a virtual key (master key)"),
    ):
        paths[path] = {"post": {"summary": summary, "security": [{"bearer": []}], **KEY_ROUTES.get(path, {}),
                                "responses": {"200": {"description": "OK"}, "default": error}}}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Gatehouse", "version": __version__,
                 "description": "OpenAI-compatible LLM gateway; every endpoint also answers without the /v1 prefix."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }


def _swagger_dir() -> Path | None:
    try:
        import swagger_ui_bundle
    except ImportError:  # pragma: no cover - it is a dependency
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Gatehouse API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>"""


def docs_routes(models: Sequence[str] = (), guardrails: Sequence[str] = ()) -> list[web.AbstractRouteDef]:
    body = orjson.dumps(openapi_document(models, guardrails))

    async def document(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=_PAGE, content_type="text/html")

    routes: list[web.AbstractRouteDef] = [web.get("/openapi.json", document), web.get("/docs", page)]
    assets = _swagger_dir()
    if assets is not None:
        routes.append(web.static("/docs/static", assets))
    return routes
