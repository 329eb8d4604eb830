"""Anthropic's Messages API spoken natively (``/v1/messages`` untranslated): what its providers share.

Used by the providers that declare ``anthropic_messages`` in their
``native_formats`` (:class:`~gatehouse.providers.base.SpeaksNatively`):
``anthropic/`` and Claude on Vertex AI. They post the client's body (plus the
deployment's defaults and whatever their endpoint needs) and hand back:

* a JSON answer as it came (an Anthropic ``message``), or
* a :class:`NativeStream`: the provider's SSE bytes relayed in runs of
  complete events, exactly as sent; the payloads when parsed. An ``error``
  event before the first content is raised when the stream opens (so the
  router may retry); later it ends the stream with that error (the client
  gets it as one ``error`` event). A stream that ends without
  ``message_stop`` is a 502.

Errors keep Anthropic's status and ``type`` (``overloaded_error`` stays a
529), so ``/v1/messages`` clients see the error the API gave.
"""

from __future__ import annotations

from typing import Any, AsyncGenerator, AsyncIterator, Iterable, Mapping

import aiohttp
import orjson

from ..errors import UpstreamError
from ..formats.anthropic.messages import MESSAGES, REQUEST_FIELDS, native_error
from ..formats.anthropic.messages_stream import find_error, frame_payload
from ..formats.sse import EventSplitter
from ..routing.deployment import Deployment
from .base import BufferedStream, NativeRequest, map_provider_errors, scrub

__all__ = ["NativeStream", "native_body", "native_betas", "native_upstream_error", "native_answer", "open_stream"]

WIRE = MESSAGES.name


def native_body(request: NativeRequest, deployment: Deployment) -> dict[str, Any]:
    """The client's body over the deployment's defaults for Messages API fields (``stream`` as asked)."""
    if request.operation != "messages":
        return dict(request.body)
    defaults = {k: v for k, v in deployment.params.items() if k in REQUEST_FIELDS and k != "model"}
    body = {**defaults, **request.body} if defaults else dict(request.body)
    if request.stream:
        body["stream"] = True
    return body


def native_betas(configured: Iterable[str], headers: Mapping[str, str]) -> str | None:
    """The deployment's ``anthropic-beta`` values and the client's, once each, in order."""
    values = list(configured)
    sent = headers.get("anthropic-beta")
    if sent:
        values += [v.strip() for v in sent.split(",") if v.strip()]
    return ",".join(dict.fromkeys(values)) or None


def native_upstream_error(status: int, raw: bytes, headers: Mapping[str, str], secrets: Iterable[str | None],
                          prefix: str = "") -> UpstreamError:
    mapped, kind, message = native_error(status, raw)
    kept = {"retry-after": headers["retry-after"]} if "retry-after" in headers else {}
    return UpstreamError(prefix + scrub(message, secrets), status=mapped, type=kind, headers=kept)


def native_answer(raw: bytes, label: str, secrets: Iterable[str | None]) -> dict[str, Any]:
    """A 200 answer's JSON object (an error body in a 200 is raised), else a 502 naming the deployment."""
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError(f"{label} answered with a body that is not JSON", status=502) from None
    if not isinstance(answer, dict):
        raise UpstreamError(f"{label} answered with JSON that is not an object", status=502)
    if answer.get("type") == "error":
        raise native_upstream_error(200, raw, {}, secrets)
    return answer


async def open_stream(resp: aiohttp.ClientResponse, timeout: float, label: str,
                      secrets: tuple[str | None, ...]) -> "NativeStream | BufferedStream":
    """A 200 streamed answer, primed; an upstream that answered JSON instead becomes its events."""
    if resp.content_type == "application/json":
        try:
            raw = await resp.read()
        finally:
            resp.release()
        events = MESSAGES.stream.from_answer(native_answer(raw, label, secrets))
        return BufferedStream([orjson.dumps(e) for e in events], frame=frame_payload)
    stream = NativeStream(resp, timeout, label, secrets)
    await stream.prime()
    return stream


class NativeStream:
    """An open Anthropic-format stream, relayed as it came (see the module docstring and ``UpstreamStream``)."""

    def __init__(self, resp: aiohttp.ClientResponse, timeout: float, label: str,
                 secrets: tuple[str | None, ...] = ()) -> None:
        self._resp = resp
        self._timeout = timeout
        self._label = label
        self._secrets = secrets
        self._pending = b""
        self._done = False
        self._reader = self._runs()
        self.upstream_model: str | None = None

    async def _runs(self) -> AsyncGenerator[bytes, None]:
        """Runs of complete events; an error event raises after the events before it."""
        splitter, stopped = EventSplitter(), False
        with map_provider_errors(self._timeout, streaming=True):
            async for piece in self._resp.content.iter_any():
                ready = splitter.feed(piece)
                if ready:
                    before, error = find_error(ready)
                    if before:
                        stopped = stopped or b"message_stop" in before
                        yield before
                    if error is not None:
                        raise native_upstream_error(200, orjson.dumps(error), {}, self._secrets)
            rest = splitter.flush()
            if rest:
                before, error = find_error(rest)
                if before:
                    stopped = stopped or b"message_stop" in before
                    yield before
                if error is not None:
                    raise native_upstream_error(200, orjson.dumps(error), {}, self._secrets)
        if not stopped:
            raise UpstreamError(f"{self._label}: the stream ended before message_stop", status=502)
        self._done = True

    async def prime(self) -> None:
        """Read up to the first content: an error before it raises here, before a byte is sent (retryable)."""
        try:
            while b"content_block" not in self._pending and b"message_stop" not in self._pending:
                self._pending += await self._reader.__anext__()
        except StopAsyncIteration:
            pass
        except BaseException:
            await self.aclose()
            raise

    async def pieces(self) -> AsyncIterator[bytes]:
        """The provider's bytes, in runs of complete events (an error event left out: the gateway sends it)."""
        if self._pending:
            first, self._pending = self._pending, b""
            yield first
        async for ready in self._reader:
            yield ready

    async def _payloads(self) -> AsyncIterator[bytes]:
        async for ready in self.pieces():
            for payload in EventSplitter.payloads(ready):
                yield payload

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._payloads()

    async def aclose(self) -> None:
        await self._reader.aclose()
        if self._done:
            self._resp.release()
        else:
            self._resp.close()  # abandon the connection: the provider sees the disconnect and stops
