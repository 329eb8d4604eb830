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

from ..passthrough import PassThrough
from ..passthrough.routes import Route
from ..request_body import BodyLimits, read_body

__all__ = ["passthrough_routes", "PassThroughRequest"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PassThroughRequest:
    """:class:`gatehouse.passthrough.flow.PassThroughInbound` over an aiohttp request."""

    __slots__ = ("request", "route", "method", "headers", "query", "tail", "limits")

    def __init__(self, request: web.Request, prefix: str, limits: BodyLimits) -> None:
        self.request = request
        self.route = request.path
        self.method = request.method
        self.headers: Mapping[str, str] = request.headers
        raw_path, _, self.query = request.raw_path.partition("?")
        self.tail = raw_path[len(prefix):] if raw_path.startswith(prefix) else raw_path
        self.limits = limits

    async def body(self) -> bytes:
        """The raw body, within the gateway's size and time limits (``max_request_size_mb``, ``request_body_timeout``)."""
        return await read_body(self.request, self.limits)


def _handler(gateway: Any, passthrough: PassThrough, route: Route) -> Handler:
    from .server import write_reply  # the one writer of replies

    limits = gateway.limits.body

    async def handle(request: web.Request) -> web.StreamResponse:
        reply = await passthrough.flow.handle(route, PassThroughRequest(request, route.prefix, limits))
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
