"""A ConverseStream answer read as it arrives: AWS event-stream frames → OpenAI chunk payloads.

The framing (prelude, headers, CRC32s) is decoded by ``botocore.eventstream``;
each event's JSON goes through :class:`~gatehouse.formats.bedrock_converse_stream.StreamTranslator`.
A frame with a bad checksum, a payload that is not JSON, an unknown event, an
exception message, or an end before ``messageStop`` raises :class:`UpstreamError`
(502, or the exception's mapped status) naming the deployment.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import aiohttp
import orjson
from botocore.eventstream import EventStreamBuffer, ParserError

from ..errors import UpstreamError
from ..formats.bedrock_converse_stream import StreamTranslator
from .base import map_provider_errors

__all__ = ["ConverseEvents"]


class ConverseEvents:
    """An open ConverseStream answer (see ``UpstreamStream``); iteration yields chunk payloads."""

    def __init__(self, resp: aiohttp.ClientResponse, translator: StreamTranslator, timeout: float,
                 deployment: str) -> None:
        self._resp = resp
        self._translator = translator
        self._timeout = timeout
        self._deployment = deployment
        self._done = False
        self.upstream_model: str | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._payloads()

    async def _payloads(self) -> AsyncIterator[bytes]:
        async for batch in self._batches():
            for payload in batch:
                yield payload

    async def pieces(self) -> AsyncIterator[bytes]:
        """SSE bytes, one piece per network read (the relay's ``[DONE]`` ends them)."""
        async for batch in self._batches():
            if batch:
                yield b"".join(b"data: " + payload + b"\n\n" for payload in batch)

    async def _batches(self) -> AsyncIterator[list[bytes]]:
        buffer = EventStreamBuffer()
        try:
            with map_provider_errors(self._timeout, streaming=True):
                async for data in self._resp.content.iter_any():
                    buffer.add_data(data)
                    out: list[bytes] = []
                    try:
                        self._translate(buffer, out)
                    except UpstreamError:
                        if out:  # what came before the bad frame still reaches the client
                            yield out
                        raise
                    yield out
            if not self._translator.finished:
                raise UpstreamError("the stream ended before messageStop", status=502)
        except UpstreamError as exc:  # every failure names the deployment
            raise UpstreamError(f"Bedrock deployment '{self._deployment}': {exc.message}", status=exc.status,
                                type=exc.type) from None
        self._done = True

    def _translate(self, buffer: EventStreamBuffer, out: list[bytes]) -> None:
        """Append the chunk payloads of every complete frame in ``buffer`` to ``out``."""
        try:
            for message in buffer:
                headers: dict[str, Any] = message.headers
                kind = headers.get(":message-type")
                if kind == "event":
                    out.extend(self._translator.event(headers.get(":event-type"), _json(message.payload)))
                elif kind == "exception":
                    raise self._translator.exception(headers.get(":exception-type"), message.payload)
                else:
                    raise UpstreamError(f"Bedrock sent a stream error: {headers.get(':error-code')}: "
                                        f"{headers.get(':error-message')}", status=502)
        except ParserError as exc:
            raise UpstreamError(f"an event-stream frame is corrupt ({type(exc).__name__})", status=502) from None

    async def aclose(self) -> None:
        if self._done:
            self._resp.release()
        else:
            self._resp.close()  # abandon the connection: Bedrock sees the disconnect


def _json(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UpstreamError("Bedrock sent an event whose payload is not JSON", status=502) from None
