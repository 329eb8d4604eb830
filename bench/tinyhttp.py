"""A tiny HTTP/1.1 server on a raw asyncio protocol, for the bench's fakes.

The fake upstream and the fake guardrail must cost as little CPU as possible,
so that the numbers measure the gateway, not the fakes. This server parses
only what they need (request line, ``Content-Length`` or chunked body,
``Connection: close``), keeps connections alive, and answers with bytes the
caller precomputed. Responses to a route may depend on the body, but nothing
here parses JSON.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Paced", "Request", "Router", "serve", "http_response", "json_response"]

_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Request:
    method: bytes
    path: bytes
    body: bytes


@dataclass(frozen=True)
class Paced:
    """A response written piece by piece, ``interval`` seconds apart (a slow stream)."""

    pieces: tuple[bytes, ...]
    interval: float


Handler = Callable[[Request], "bytes | Paced"]


@dataclass
class Router:
    """Maps a request to response bytes; ``count`` tallies requests per route name."""

    routes: list[tuple[bytes, Callable[[bytes], bool], str, Handler]] = field(default_factory=list)
    count: dict[str, int] = field(default_factory=dict)

    def add(self, method: bytes, match: Callable[[bytes], bool], name: str, handler: Handler) -> None:
        self.routes.append((method, match, name, handler))
        self.count[name] = 0

    def respond(self, request: Request) -> bytes | Paced:
        for method, match, name, handler in self.routes:
            if request.method == method and match(request.path):
                self.count[name] += 1
                return handler(request)
        return json_response(b'{"error":{"message":"not found","type":"not_found"}}', status=b"404 Not Found")


def http_response(body: bytes, content_type: bytes, status: bytes = b"200 OK") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type
        + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def json_response(body: bytes, status: bytes = b"200 OK") -> bytes:
    return http_response(body, b"application/json", status)


def _parse_chunked(buf: bytearray, pos: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at ``pos``; None while incomplete."""
    body = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n\r\n", pos - 2)  # skip (empty) trailers
            return (bytes(body), end + 4) if end >= 0 else None
        if len(buf) < pos + size + 2:
            return None
        body += buf[pos:pos + size]
        pos += size + 2


def _parse_head(head: bytes) -> tuple[bytes, bytes, int, bool, bool]:
    """Return (method, path, content length, chunked, close) of a request head."""
    lines = head.split(b"\r\n")
    method, target, version = lines[0].split(b" ", 2)
    length, chunked, close = 0, False, version == b"HTTP/1.0"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    return method, target.split(b"?", 1)[0], length, chunked, close


class _Protocol(asyncio.Protocol):
    def __init__(self, router: Router) -> None:
        self.router = router
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pacing = False  # a paced response is being written: later requests wait in the buffer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._serve_buffered()

    def _serve_buffered(self) -> None:
        while self.transport is not None and not self.pacing and self._serve_one():
            pass

    def _write_paced(self, paced: Paced, index: int, close: bool, start: float) -> None:
        """Write piece ``index`` and schedule the next at ``start + (index + 1) × interval`` (no drift)."""
        if self.transport is None:
            return
        self.transport.write(paced.pieces[index])
        if index + 1 < len(paced.pieces):
            asyncio.get_running_loop().call_at(start + (index + 1) * paced.interval, self._write_paced, paced,
                                               index + 1, close, start)
            return
        self.pacing = False
        if close:
            self.transport.close()
        else:
            self._serve_buffered()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def _serve_one(self) -> bool:
        """Answer the first complete request in the buffer; False if there is none."""
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > _MAX_HEAD:
                self.transport.close()
            return False
        method, path, length, chunked, close = _parse_head(bytes(self.buf[:end]))
        start = end + 4
        if chunked:
            parsed = _parse_chunked(self.buf, start)
            if parsed is None:
                return False
            body, consumed = parsed
        else:
            if len(self.buf) < start + length:
                return False
            body, consumed = bytes(self.buf[start:start + length]), start + length
        del self.buf[:consumed]
        answer = self.router.respond(Request(method, path, body))
        if isinstance(answer, Paced):
            self.pacing = True
            self._write_paced(answer, 0, close, asyncio.get_running_loop().time())
            return False
        self.transport.write(answer)
        if close:
            self.transport.close()
            return False
        return True


async def _serve_forever(router: Router, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(router), host, port, backlog=1024, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def serve(router: Router, host: str, port: int) -> None:
    """Run the server until SIGTERM/SIGINT, on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve_forever(router, host, port))
    else:
        uvloop.run(_serve_forever(router, host, port))
