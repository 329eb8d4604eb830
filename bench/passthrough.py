"""The minimal Python pass-through proxy: the practical limit for a Python gateway.

An aiohttp server, one pooled aiohttp client session, uvloop, and no JSON
parsing: it checks the master key with a string comparison, forwards the body
bytes to the upstream's ``/v1/chat/completions`` with the upstream key, and
returns the answer (streamed through chunk by chunk when the upstream answers
``text/event-stream``). ``GET /health`` answers 200.

Run: ``python bench/passthrough.py --port 8003 --upstream http://127.0.0.1:8001``.
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import ClientSession, TCPConnector, web

MASTER_KEY = "sk-bench-1234"
UPSTREAM_KEY = "sk-upstream"

_UNAUTHORIZED = b'{"error":{"message":"invalid key","type":"auth_error","code":"401"}}'


class PassThrough:
    """Owns the one client session; its ``handle`` is the only route that matters."""

    def __init__(self, upstream: str) -> None:
        self.url = upstream.rstrip("/") + "/v1/chat/completions"
        self.expected_auth = "Bearer " + MASTER_KEY
        self.headers = {"Authorization": "Bearer " + UPSTREAM_KEY, "Content-Type": "application/json"}
        self.session: ClientSession | None = None

    async def startup(self, _: web.Application) -> None:
        self.session = ClientSession(connector=TCPConnector(limit=0), auto_decompress=False)

    async def shutdown(self, _: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != self.expected_auth:
            return web.Response(status=401, body=_UNAUTHORIZED, content_type="application/json")
        body = await request.read()
        async with self.session.post(self.url, data=body, headers=self.headers) as upstream:
            if upstream.content_type != "text/event-stream":
                data = await upstream.read()
                return web.Response(status=upstream.status, body=data, content_type=upstream.content_type)
            response = web.StreamResponse(status=upstream.status, headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response


async def health(_: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


def build_app(upstream: str) -> web.Application:
    proxy = PassThrough(upstream)
    app = web.Application()
    app.on_startup.append(proxy.startup)
    app.on_cleanup.append(proxy.shutdown)
    app.router.add_post("/v1/chat/completions", proxy.handle)
    app.router.add_post("/chat/completions", proxy.handle)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="base URL of the upstream, without /v1")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        loop = None
    else:
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
    web.run_app(build_app(args.upstream), host=args.host, port=args.port,
                access_log=None, print=None, loop=loop, backlog=1024)


if __name__ == "__main__":
    main()
