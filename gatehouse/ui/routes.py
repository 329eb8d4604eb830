"""The admin console's routes: the page, its files, and two admin-only JSON routes.

::

    GET /ui, /ui/                 the console (index.html), with the security headers
    GET /ui/{file}                a file of the build (assets/*.js, *.css, favicon.svg)
    GET /ui/api/session           who is signed in (admin only): role, version, request-log settings
    GET /ui/api/requests          the live request log: ?after=<seq>&limit=<n> (admin only)
    GET /ui/api/requests/stream   the same as Server-Sent Events, ``event: request`` per entry (admin only)

The console signs in with the master key or an admin's key, typed into its
form and kept in the browser's session storage; it sends it as
``Authorization: Bearer`` to these routes and to the management API
(``/key/*``, ``/team/*``, ...). The key is never in a URL and never logged.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError

from .. import __version__
from ..auth.identity import MASTER_KEY_TOKEN
from ..errors import BadRequestError, NotFoundError, UpstreamUnavailableError
from ..plugins.request_log import RequestLog
from .assets import SECURITY_HEADERS, Assets
from .settings import UISettings

__all__ = ["ui_routes", "install_ui", "STREAM_SECONDS", "HEARTBEAT_SECONDS"]

#: One SSE response lasts this long; the console then reconnects with the last ``seq`` it saw.
STREAM_SECONDS = 60.0
HEARTBEAT_SECONDS = 15.0
MAX_PAGE = 500

Authorize = Callable[[web.Request], Awaitable[Any]]


def _json(payload: Any) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json",
                        headers={"Cache-Control": "no-store", **SECURITY_HEADERS})


def _query_int(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > maximum:
        raise BadRequestError(f"{name} must be a whole number from 0 to {maximum}", param=name)
    return int(raw)


class ConsoleRoutes:
    """The handlers, bound to one gateway's settings, request log and admin check."""

    def __init__(self, *, settings: UISettings, log: RequestLog | None, authorize: Authorize,
                 assets: Assets | None = None, describe_auth: Callable[[], str] = lambda: "") -> None:
        self.settings = settings
        self.log = log
        self.authorize = authorize
        self.assets = assets or Assets()
        self.describe_auth = describe_auth
        self.log_id = secrets.token_hex(8)  # a restarted gateway's log starts again at seq 1

    async def page(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "index.html":
            raise NotFoundError(f"No route for {request.method} {request.path}")
        return self._file(name)

    def _file(self, name: str) -> web.Response:
        if not self.assets.built:
            raise UpstreamUnavailableError("the admin console is not built: run scripts/build-ui")
        asset = self.assets.get(name)
        if asset is None:
            raise NotFoundError(f"No route for GET /ui/{name}")
        cache = "public, max-age=31536000, immutable" if asset.immutable else "no-cache"
        return web.Response(body=asset.body, content_type=asset.content_type,
                            headers={"Cache-Control": cache, **SECURITY_HEADERS})

    async def session(self, request: web.Request) -> web.Response:
        identity = await self._admin(request)
        return _json({
            "user_id": getattr(identity, "user_id", None),
            "user_role": getattr(identity, "user_role", None),
            "master_key": getattr(identity, "api_key", None) == MASTER_KEY_TOKEN,
            "gatehouse_version": __version__,
            "auth": self.describe_auth(),
            "request_log": self._log_state(),
        })

    async def _admin(self, request: web.Request) -> Any:
        """The admin check; an admin's console call keeps the log recording."""
        identity = await self.authorize(request)
        if self.log is not None:
            self.log.watched()
        return identity

    def _log_state(self) -> dict[str, Any]:
        log = self.log
        return {"enabled": log is not None, "recording": bool(log and log.recording),
                "always": bool(log and log.always), "size": log.size if log else 0,
                "content": bool(log and log.include_content), "log_id": self.log_id,
                "last_seq": log.last_seq if log else 0}

    async def requests(self, request: web.Request) -> web.Response:
        await self._admin(request)
        after = _query_int(request, "after", 0, 2**62)
        limit = _query_int(request, "limit", 100, MAX_PAGE)
        entries = self.log.since(after, limit) if self.log is not None else []
        return _json({**self._log_state(), "requests": entries})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        await self._admin(request)
        after = _query_int(request, "after", 0, 2**62)
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no",
            **SECURITY_HEADERS})
        await response.prepare(request)
        try:
            await response.write(b"retry: 2000\nevent: hello\ndata: " + orjson.dumps(self._log_state()) + b"\n\n")
            if self.log is not None:
                await self._relay(response, self.log, after)
            await response.write_eof()
        except (ConnectionResetError, ClientConnectionResetError):
            pass  # the console went away
        return response

    async def _relay(self, response: web.StreamResponse, log: RequestLog, after: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_SECONDS
        if after > log.last_seq:
            after = 0  # the console saw an earlier process's log
        while not log.closed and loop.time() < deadline:
            log.watched()  # an open live page keeps the log recording
            if not await log.wait(after, min(HEARTBEAT_SECONDS, max(deadline - loop.time(), 0.01))):
                await response.write(b": ping\n\n")
                continue
            for entry in log.since(after, MAX_PAGE):
                await response.write(b"id: %d\nevent: request\ndata: %s\n\n" % (entry["seq"], orjson.dumps(entry)))
                after = entry["seq"]

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ui/api/session", self.session, allow_head=False),
            web.get("/ui/api/requests", self.requests, allow_head=False),
            web.get("/ui/api/requests/stream", self.stream, allow_head=False),
            web.get("/ui", self.page),
            web.get("/ui/", self.page),
            web.get("/ui/{name:.+}", self.file),
        ]


def ui_routes(gateway: Any) -> list[web.RouteDef]:
    """The console's routes for ``gateway`` (none when ``disable_admin_ui`` is set)."""
    settings: UISettings = gateway.ui_settings
    if not settings.enabled:
        return []

    async def authorize(request: web.Request) -> Any:
        return await gateway.auth.require_admin(request)

    console = ConsoleRoutes(settings=settings, log=gateway.request_log, authorize=authorize,
                            describe_auth=gateway.auth.describe)
    return console.routes()


def install_ui(app: web.Application, gateway: Any) -> None:
    """Add the console's routes to ``app``; live streams end when the server starts shutting down."""
    app.router.add_routes(ui_routes(gateway))
    log: RequestLog | None = gateway.request_log

    async def end_streams(_: web.Application) -> None:
        if log is not None:
            log.close()

    app.on_shutdown.append(end_streams)
