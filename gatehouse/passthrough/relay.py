"""A pass-through answer on its way back: bytes relayed as they arrive, usage read on the side.

:func:`relay` turns an open upstream answer into a :class:`~gatehouse.relay.Relayed`
(its first piece already read, so an error before any byte is a normal error
answer). Nothing is buffered whole: a :class:`UsageScanner` parses only the
SSE events that mention usage, or keeps a JSON answer (up to
:data:`JSON_LIMIT`) to read its usage once it is complete.
"""

from __future__ import annotations

from typing import Any, AsyncGenerator, Callable

import aiohttp
import orjson

from ..formats.passthrough_usage import UsageReader
from ..errors import ResponseTooLargeError
from ..providers.base import map_provider_errors, too_large_message
from ..relay import Relayed

__all__ = ["UsageScanner", "relay", "held", "Upstream", "JSON_LIMIT"]

JSON_LIMIT = 16 * 1024 * 1024
"""A JSON answer larger than this is relayed without reading its usage."""


class UsageScanner:
    """Feeds a :class:`UsageReader` from relayed bytes (SSE events or one JSON body)."""

    def __init__(self, reader: UsageReader | None, content_type: str) -> None:
        self.reader = reader
        self.sse = "event-stream" in content_type
        self.json = not self.sse and "json" in content_type
        self._carry = b""
        self._body: list[bytes] = []
        self._size = 0

    def feed(self, piece: bytes) -> None:
        if self.reader is None:
            return
        if self.json:
            self._size += len(piece)
            if self._size <= JSON_LIMIT:
                self._body.append(piece)
            return
        if not self.sse:
            return
        data = self._carry + piece
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        cut = data.rfind(b"\n\n")
        if cut < 0:
            self._carry = data[-JSON_LIMIT:]
            return
        self._carry = data[cut + 2:]
        if b"usage" in data[:cut]:  # usage, usageMetadata: only those events are parsed
            for event in data[:cut].split(b"\n\n"):
                if b"usage" in event:
                    self._event(event)

    def _event(self, event: bytes) -> None:
        payload = b"\n".join(line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:"))
        self._value(payload)

    def _value(self, raw: bytes) -> None:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        if isinstance(value, dict) and self.reader is not None:
            self.reader.feed(value)

    def usage(self) -> dict[str, Any] | None:
        if self.reader is None:
            return None
        if self.json and self._body and self._size <= JSON_LIMIT:
            self._value(b"".join(self._body))
            self._body = []
        if self.sse and self._carry.strip() and b"usage" in self._carry:
            self._event(self._carry)
            self._carry = b""
        return self.reader.usage()


class Upstream:
    """Closes the upstream answer: released when it was read to the end, else the connection is dropped."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp
        self.done = False

    async def aclose(self) -> None:
        if self.done:
            self.resp.release()
        else:
            self.resp.close()


async def relay(upstream: Upstream, scanner: UsageScanner, timeout: float,
                assembled: Callable[[], dict[str, Any]], max_bytes: int) -> Relayed:
    """The answer's bytes as they come (the first piece read now), at most ``max_bytes`` in all."""
    async def pieces() -> AsyncGenerator[bytes, None]:
        total = 0
        with map_provider_errors(timeout, streaming=True):
            async for piece in upstream.resp.content.iter_any():
                total += len(piece)
                if total > max_bytes:
                    raise ResponseTooLargeError(too_large_message(max_bytes))
                scanner.feed(piece)
                yield piece
        upstream.done = True

    rest = pieces()
    try:
        first: bytes | None = await rest.__anext__()
    except StopAsyncIteration:
        first = None
    except BaseException:
        await rest.aclose()
        await upstream.aclose()
        raise
    return Relayed(first, rest, upstream, assembled)


async def held(body: bytes, upstream: Upstream, assembled: Callable[[], dict[str, Any]]) -> Relayed:
    """An answer already read whole (checked by post-call hooks), as a relay of one piece."""
    async def nothing() -> AsyncGenerator[bytes, None]:
        return
        yield b""  # pragma: no cover - makes this an async generator

    upstream.done = True
    return Relayed(body or None, nothing(), upstream, assembled)
