"""The ``/key/*`` HTTP endpoints (LiteLLM's virtual-key management API).

::

    POST /key/generate   JSON body            -> KeyManager.generate
    GET  /key/info       ?key=<key or hash>   -> KeyManager.info
    GET  /key/list       ?page&size&user_id&team_id&key_alias&return_full_object
    POST /key/update     JSON body            -> KeyManager.update
    POST /key/delete     JSON body            -> KeyManager.delete

Every handler first awaits ``authorize(request)`` (which raises unless the
caller may manage keys), then answers JSON. Handlers only raise
:class:`~gatehouse.errors.GatewayError`; the server's error middleware renders
them with :func:`gatehouse.formats.base.render_error`.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web

from gatehouse.errors import BadRequestError, InvalidJSONError

from .management import KeyManager

__all__ = ["key_routes", "Authorize"]

#: Raises (e.g. ``AuthenticationError``) unless the request may manage keys.
Authorize = Callable[[web.Request], Awaitable[None]]


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty body counts as ``{}``."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSONError(str(exc)) from None
    if not isinstance(body, dict):
        raise BadRequestError("the request body must be a JSON object", param="request_body")
    return body


def json_response(payload: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


def key_routes(manager: KeyManager, authorize: Authorize) -> list[web.RouteDef]:
    """The ``/key/*`` routes, bound to ``manager`` and guarded by ``authorize``."""

    async def generate(request: web.Request) -> web.Response:
        await authorize(request)
        return json_response(await manager.generate(await read_json_object(request)))

    async def info(request: web.Request) -> web.Response:
        await authorize(request)
        return json_response(await manager.info(request.query.get("key")))

    async def list_keys(request: web.Request) -> web.Response:
        await authorize(request)
        return json_response(await manager.list(dict(request.query)))

    async def update(request: web.Request) -> web.Response:
        await authorize(request)
        return json_response(await manager.update(await read_json_object(request)))

    async def delete(request: web.Request) -> web.Response:
        await authorize(request)
        return json_response(await manager.delete(await read_json_object(request)))

    async def block(request: web.Request) -> web.Response:
        await authorize(request)
        return json_response(await manager.set_blocked(await read_json_object(request), True))

    async def unblock(request: web.Request) -> web.Response:
        await authorize(request)
        return json_response(await manager.set_blocked(await read_json_object(request), False))

    return [
        web.post("/key/block", block),
        web.post("/key/unblock", unblock),
        web.post("/key/generate", generate),
        web.get("/key/info", info, allow_head=False),
        web.get("/key/list", list_keys, allow_head=False),
        web.post("/key/update", update),
        web.post("/key/delete", delete),
    ]
