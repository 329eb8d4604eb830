"""The aiohttp routes of the pass-through routes (:mod:`gatehouse.passthrough`).

Registered around the endpoint table so that the more specific route wins:
exact ``pass_through_endpoints`` paths first (an operator's route replaces a
unified endpoint of the same path), then the unified endpoints (the
Azure-style ``/openai/deployments/{model}/…`` routes among them), then
``pass_through_endpoints`` with ``include_subpath``, then the provider routes.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from aiohttp import web

from ..errors import PayloadTooLargeError
from ..passthrough import PassThrough
from ..passthrough.routes import Route

__all__ = ["passthrough_routes", "PassThroughRequest"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PassThroughRequest:
    """:class:`gatehouse.passthrough.flow.PassThroughInbound` over an aiohttp request."""

    __slots__ = ("request", "route", "method", "headers", "query", "tail", "limit")

    def __init__(self, request: web.Request, prefix: str, limit: int) -> None:
        self.request = request
        self.route = request.path
        self.method = request.method
        self.headers: Mapping[str, str] = request.headers
        raw_path, _, self.query = request.raw_path.partition("?")
        self.tail = raw_path[len(prefix):] if raw_path.startswith(prefix) else raw_path
        self.limit = limit

    async def body(self) -> bytes:
        length = self.request.content_length
        too_large = PayloadTooLargeError(f"Request body too large: the limit is {self.limit} bytes")
        if length is not None and length > self.limit:
            raise too_large
        try:
            return await self.request.read()
        except web.HTTPRequestEntityTooLarge:
            raise too_large from None


def _handler(gateway: Any, passthrough: PassThrough, route: Route) -> Handler:
    from .server import write_reply  # the one writer of replies

    limit = gateway.config.max_request_bytes

    async def handle(request: web.Request) -> web.StreamResponse:
        reply = await passthrough.flow.handle(route, PassThroughRequest(request, route.prefix, limit))
        return await write_reply(request, reply)

    return handle


def passthrough_routes(app: web.Application, gateway: Any, *, exact: bool) -> None:
    """Add the routes that go before the endpoint table (``exact``) or after it."""
    passthrough: PassThrough | None = getattr(gateway, "passthrough", None)
    if passthrough is None:
        return
    routes = [r for r in passthrough.custom if not r.subpath] if exact else (
        [r for r in passthrough.custom if r.subpath] + list(passthrough.providers))
    for route in routes:
        handler = _handler(gateway, passthrough, route)
        app.router.add_route("*", route.prefix, handler)
        if route.subpath:
            app.router.add_route("*", route.prefix + "/{tail:.*}", handler)
