"""What translating providers share: one pooled session, JSON calls, and streams translated event by event.

A translating provider (Cohere, Ollama, ...) posts its native JSON with
:meth:`TranslatingProvider.post` (one pooled ``aiohttp`` session per provider
instance, transport errors mapped at :func:`~.base.map_provider_errors`) and
wraps a streamed answer in a :class:`TranslatedStream`: the native events
(SSE ``data:`` payloads or NDJSON lines) go through a small stateful
:class:`Translator` from :mod:`gatehouse.formats`, and out come OpenAI
``chat.completion.chunk`` payloads. An answer that is not what the provider
documents (not JSON, an unknown event, a stream cut short) is a 502 naming
the deployment.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable, Iterable, Protocol

import aiohttp
import orjson

from ..errors import UpstreamError
from ..routing.deployment import Deployment
from .base import map_provider_errors

__all__ = ["Translator", "TranslatedStream", "TranslatingProvider", "bad_answer", "drop_params", "label"]

ErrorMapper = Callable[[int, Any], tuple[int, str]]


class Translator(Protocol):
    """Native stream events → OpenAI chunk dicts; ``end()`` at the end of the bytes (raises if cut short)."""

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]: ...

    def end(self) -> list[dict[str, Any]]: ...


def label(deployment: Deployment) -> str:
    """How messages name a deployment: ``cohere deployment 'my-model'``."""
    return f"{deployment.provider} deployment '{deployment.model_name}'"


def bad_answer(deployment: Deployment, what: str) -> UpstreamError:
    """The 502 for an answer that is not what the provider documents."""
    return UpstreamError(f"{label(deployment)} answered with {what}", status=502)


def drop_params(body: dict[str, Any], deployment: Deployment) -> bool:
    """LiteLLM's ``drop_params``: the request's, else the deployment's (``litellm_settings`` is its default).

    Also removes the request's own ``drop_params`` and the deployment's ``additional_drop_params``.
    """
    asked = body.pop("drop_params", None)
    for name in deployment.litellm_params.get("additional_drop_params") or ():
        body.pop(str(name), None)
    if asked is not None:
        return asked is True or str(asked).lower() == "true"
    value = deployment.litellm_params.get("drop_params")
    return value is True or str(value).lower() == "true"


class TranslatedStream:
    """An open native stream, read as OpenAI ``chat.completion.chunk`` payloads (see ``UpstreamStream``)."""

    def __init__(self, resp: aiohttp.ClientResponse, timeout: float, translator: Translator, *,
                 framing: str, deployment: Deployment) -> None:
        self._resp = resp
        self._timeout = timeout
        self._translator = translator
        self._split = _sse_events if framing == "sse" else _lines
        self._deployment = deployment
        self._done = False
        self.upstream_model: str | None = None

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        buffer = b""
        with map_provider_errors(self._timeout, streaming=True):
            async for piece in self._resp.content.iter_any():
                buffer += piece
                events, buffer = self._split(buffer, False)
                for event in events:
                    yield self._parse(event)
        events, _ = self._split(buffer, True)
        for event in events:
            yield self._parse(event)

    def _parse(self, raw: bytes) -> dict[str, Any]:
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise bad_answer(self._deployment, "a stream event that is not JSON") from None
        if not isinstance(event, dict):
            raise bad_answer(self._deployment, "a stream event that is not a JSON object")
        return event

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        """The translated chunks, in order; errors are :mod:`gatehouse.errors` (502 for a bad stream)."""
        try:
            async for event in self._events():
                for chunk in self._translator.feed(event):
                    yield chunk
            for chunk in self._translator.end():
                yield chunk
        except ValueError as exc:
            raise bad_answer(self._deployment, f"a stream that is not what its API documents ({exc})") from None
        self._done = True

    async def _payloads(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks():
            yield orjson.dumps(chunk)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._payloads()

    async def pieces(self) -> AsyncIterator[bytes]:
        """The chunks as OpenAI SSE frames (no ``[DONE]``: the relay sends its own)."""
        async for chunk in self.chunks():
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"

    async def aclose(self) -> None:
        if self._done:
            self._resp.release()
        else:
            self._resp.close()  # abandon the connection: the provider sees the disconnect


def _sse_events(buffer: bytes, final: bool) -> tuple[list[bytes], bytes]:
    """Complete SSE events' ``data`` payloads (``[DONE]`` and data-less events skipped), and the rest."""
    if b"\r" in buffer:
        buffer = buffer.replace(b"\r\n", b"\n")
    blocks = buffer.split(b"\n\n")
    rest = b"" if final else blocks.pop()
    events = []
    for block in blocks:
        lines = [line[5:].lstrip(b" ") for line in block.split(b"\n") if line.startswith(b"data:")]
        payload = b"\n".join(lines)
        if payload and payload != b"[DONE]":
            events.append(payload)
    return events, rest


def _lines(buffer: bytes, final: bool) -> tuple[list[bytes], bytes]:
    """Complete NDJSON lines (blank ones skipped), and the rest."""
    lines = buffer.split(b"\n")
    rest = b"" if final else lines.pop()
    return [line.strip() for line in lines if line.strip()], rest


class TranslatingProvider:
    """The HTTP half of a translating provider: one pooled session, JSON posts, streams opened."""

    def __init__(self, *, connect_timeout: float = 10.0) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._connect_timeout = connect_timeout
        self._timeouts: dict[tuple[float, bool], aiohttp.ClientTimeout] = {}

    async def start(self) -> None:
        return None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _timeout(self, seconds: float, stream: bool) -> aiohttp.ClientTimeout:
        found = self._timeouts.get((seconds, stream))
        if found is None:
            found = self._timeouts[(seconds, stream)] = (
                aiohttp.ClientTimeout(total=None, connect=self._connect_timeout, sock_read=seconds) if stream
                else aiohttp.ClientTimeout(total=seconds, connect=self._connect_timeout))
        return found

    async def post(self, url: str, native: dict[str, Any], headers: dict[str, str], timeout: float, *,
                   deployment: Deployment, errors: ErrorMapper, secrets: Iterable[str | None] = ()) -> dict[str, Any]:
        """POST ``native``; the JSON object answered, or the mapped error."""
        with map_provider_errors(timeout, secrets):
            async with self._client().post(url, data=orjson.dumps(native), headers=headers,
                                           timeout=self._timeout(timeout, False)) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise upstream_error(resp.status, raw, resp.headers, errors, secrets)
        return json_object(raw, deployment)

    async def open(self, url: str, native: dict[str, Any], headers: dict[str, str], timeout: float, *,
                   errors: ErrorMapper, secrets: Iterable[str | None] = ()) -> aiohttp.ClientResponse:
        """POST ``native`` and return the open response once it answered 200 (errors mapped)."""
        with map_provider_errors(timeout, secrets):
            resp = await self._client().post(url, data=orjson.dumps(native), headers=headers,
                                             timeout=self._timeout(timeout, True))
        if resp.status >= 400:
            try:
                raw = await resp.read()
            except (aiohttp.ClientError, asyncio.TimeoutError):
                raw = b""
            finally:
                resp.release()
            raise upstream_error(resp.status, raw, resp.headers, errors, secrets)
        return resp


def json_object(raw: bytes, deployment: Deployment) -> dict[str, Any]:
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_answer(deployment, "a body that is not JSON") from None
    if not isinstance(answer, dict):
        raise bad_answer(deployment, "JSON that is not an object")
    return answer


def upstream_error(status: int, raw: bytes, headers: Any, errors: ErrorMapper,
                   secrets: Iterable[str | None]) -> UpstreamError:
    """A provider's HTTP error answer as an ``UpstreamError`` (``retry-after`` kept, secrets scrubbed)."""
    from .base import scrub

    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    mapped, message = errors(status, body)
    kept = {"retry-after": headers["retry-after"]} if "retry-after" in headers else {}
    return UpstreamError(scrub(message, secrets), status=mapped, headers=kept)
