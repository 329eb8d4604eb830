"""What the flow takes in and gives back, independent of the HTTP server.

The aiohttp server (:mod:`gatehouse.http.server`) and the hook harness
(:mod:`gatehouse.testing.harness`) both drive :class:`gatehouse.flow.Flow`
through these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Mapping, Protocol

import orjson

__all__ = ["Inbound", "JsonReply", "StreamReply", "Reply", "SSE_HEADERS", "StreamInterrupted"]

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class Inbound(Protocol):
    """One client request as the flow sees it."""

    route: str
    headers: Mapping[str, str]
    """Case-insensitive look-ups (``headers.get("Authorization")``)."""
    path_model: str | None
    """The model named by the path (``/openai/deployments/{model}/...``), which wins over the body's."""

    async def body(self) -> bytes:
        """The raw body (raises :class:`PayloadTooLargeError` past the limit)."""
        ...

    async def form(self, check: Callable[[str, Any], None] | None = None) -> dict[str, Any]:
        """A multipart body: fields as strings, files as :class:`UploadFile`.

        ``check(name, value)`` is called on each text field as soon as it is read
        (the flow refuses a model the key may not use before the file arrives).
        """
        ...


@dataclass(slots=True)
class JsonReply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(slots=True)
class StreamReply:
    """A 200 SSE answer; ``frames`` yields complete frames, ending with the format's end of stream.

    Whoever writes it must ``aclose()`` ``frames`` if it stops early (client gone).
    """

    headers: dict[str, str]
    frames: AsyncIterator[bytes]
    status: int = 200


Reply = JsonReply | StreamReply


class StreamInterrupted(Exception):
    """Raised by a :class:`StreamReply`'s frames when an answer that cannot carry an error event
    (audio, pass-through bytes) fails after its first byte: whoever writes it breaks the
    connection, so the client sees an incomplete answer."""
