"""``GET /v1/models`` (and ``/models``), ``GET /v1/models/{model_id}``: the model names a key may call.

Listed: every exact model group in config order, then every alias of
``router_settings.model_group_alias`` that is not ``hidden``, keeping those
the key may call (its ``models``: the name itself, or the group an alias
names). Wildcard groups (``*``, ``openai/*``, ``claude-*``) are not listed;
``?return_wildcard_routes=true`` adds them. With an ``anthropic-version``
request header (the ``anthropic`` SDK, Claude Code) the list is in
Anthropic's Models API shape. Any listed name can be fetched by id; others
are a 404.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..errors import NotFoundError

__all__ = ["model_routes", "visible_models"]

#: The ``created`` of every listed model (LiteLLM's constant).
CREATED = 1677610602
#: Anthropic's ``created_at`` for the same instant.
CREATED_AT = "2023-04-06T08:16:42Z"


def visible_models(gateway: Any, identity: Any, *, wildcards: bool = False) -> list[str]:
    """The names ``identity`` may call, as ``/v1/models`` lists them."""
    names = gateway.names
    listed = names.listed() + (names.patterns() if wildcards else [])
    allowed = identity.models
    if not allowed or "all-proxy-models" in allowed or "*" in allowed:
        return listed
    return [n for n in listed if n in allowed or names.group_of(n) in allowed]


def _openai(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "gatehouse"}


def _anthropic(name: str) -> dict[str, Any]:
    return {"type": "model", "id": name, "display_name": name, "created_at": CREATED_AT}


def _json(payload: Any) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


def model_routes(gateway: Any) -> list[web.RouteDef]:
    async def models(request: web.Request) -> web.Response:
        identity = await gateway.auth.authenticate(request.headers, route=request.path, request=request)
        wildcards = request.query.get("return_wildcard_routes", "").lower() == "true"
        names = visible_models(gateway, identity, wildcards=wildcards)
        if "anthropic-version" in request.headers:
            return _json({"data": [_anthropic(n) for n in names], "has_more": False,
                          "first_id": names[0] if names else None, "last_id": names[-1] if names else None})
        return _json({"object": "list", "data": [_openai(n) for n in names]})

    async def model(request: web.Request) -> web.Response:
        identity = await gateway.auth.authenticate(request.headers, route=request.path, request=request)
        name = request.match_info["model_id"]
        if name not in visible_models(gateway, identity):
            raise NotFoundError(f"The model '{name}' does not exist or this key may not call it", param="model")
        return _json(_anthropic(name) if "anthropic-version" in request.headers else _openai(name))

    return [web.get("/models", models), web.get("/v1/models", models),
            web.get("/models/{model_id:.+}", model), web.get("/v1/models/{model_id:.+}", model)]
