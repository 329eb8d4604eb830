"""A Gemini ``streamGenerateContent?alt=sse`` answer, read as OpenAI chunks (an ``UpstreamStream``).

Each SSE ``data:`` event is one ``GenerateContentResponse``; it is parsed and
translated by :class:`gatehouse.formats.gemini_answer.StreamTranslator`. What
the API does not document ends the stream with a 502 naming the deployment:
an event that is not JSON, an object that is no Gemini event, a named SSE
event, or a stream that ends before its finish reason. An ``{"error": ...}``
event raises the error it carries (429 stays 429). :meth:`GeminiStream.prime`
reads up to the first chunk before the stream is handed over, so an error
there is still an ordinary (retryable) error answer.
"""

from __future__ import annotations

from typing import Any, AsyncGenerator, AsyncIterator, Iterator

import aiohttp
import orjson

from ..errors import UpstreamError
from ..formats.gemini_answer import StreamTranslator, is_known_event, stream_error
from .base import map_provider_errors

__all__ = ["GeminiStream", "sse_events", "bad_answer"]


def bad_answer(label: str, what: str) -> UpstreamError:
    return UpstreamError(f"{label}: the provider answered with {what}", status=502)


def sse_events(buffer: bytearray) -> Iterator[tuple[bytes | None, bytes]]:
    """Complete SSE events in ``buffer`` (consumed) as (event name, data)."""
    while True:
        end = buffer.find(b"\n\n")
        if end < 0:
            return
        block = bytes(buffer[:end])
        del buffer[:end + 2]
        name: bytes | None = None
        data: list[bytes] = []
        for line in block.split(b"\n"):
            if line.startswith(b"data:"):
                data.append(line[5:].lstrip(b" "))
            elif line.startswith(b"event:"):
                name = line[6:].strip()
        if data or name:
            yield name, b"\n".join(data)


class GeminiStream:
    """OpenAI chunk payloads from a Gemini SSE answer (see ``UpstreamStream``)."""

    def __init__(self, resp: aiohttp.ClientResponse, translator: StreamTranslator, timeout: float, label: str) -> None:
        self._resp = resp
        self._translator = translator
        self._timeout = timeout
        self._label = label
        self._done = False
        self._pending: list[bytes] = []
        self._reader = self._chunks()
        self.upstream_model: str | None = None

    async def prime(self) -> None:
        """Read up to the first chunk: a broken or failing stream raises here, before any byte is sent."""
        try:
            self._pending = [await self._reader.__anext__()]
        except StopAsyncIteration:
            self._pending = []
        except BaseException:
            await self.aclose()
            raise

    async def _payloads(self) -> AsyncIterator[bytes]:
        pending, self._pending = self._pending, []
        for payload in pending:
            yield payload
        async for payload in self._reader:
            yield payload

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._payloads()

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        buffer = bytearray()
        with map_provider_errors(self._timeout, streaming=True):
            async for piece in self._resp.content.iter_any():
                buffer += piece.replace(b"\r\n", b"\n") if b"\r" in piece else piece
                for name, data in sse_events(buffer):
                    for chunk in self._translate(name, data):
                        yield orjson.dumps(chunk)
        if buffer.strip():
            buffer += b"\n\n"
            for name, data in sse_events(buffer):
                for chunk in self._translate(name, data):
                    yield orjson.dumps(chunk)
        if not self._translator.complete:
            raise bad_answer(self._label, "a stream that ended before its last event")
        self._done = True
        for chunk in self._translator.end():
            yield orjson.dumps(chunk)

    def _translate(self, name: bytes | None, data: bytes) -> list[dict[str, Any]]:
        if name not in (None, b"message"):
            raise bad_answer(self._label, f"an unknown stream event '{name.decode(errors='replace')}'")
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise bad_answer(self._label, "a stream event that is not JSON") from None
        if isinstance(event, dict):
            error = stream_error(event)
            if error is not None:
                raise error
        if not is_known_event(event):
            raise bad_answer(self._label, "a stream event Gemini does not document")
        return self._translator.feed(event)

    async def pieces(self) -> AsyncIterator[bytes]:
        """The translated chunks as SSE frames (a translated stream has no raw bytes to relay)."""
        async for payload in self._payloads():
            yield b"data: " + payload + b"\n\n"

    async def aclose(self) -> None:
        await self._reader.aclose()
        if self._done:
            self._resp.release()
        else:
            self._resp.close()  # abandon the connection: the provider sees the disconnect
