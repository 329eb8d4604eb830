"""What AI Studio (``gemini/``) and Vertex AI (``vertex_ai/``) share: the Gemini wire over one pooled session.

A subclass says where a call goes (:meth:`GeminiWire.url`) and how it is
authorised (:meth:`GeminiWire.auth`); this class translates through
:mod:`gatehouse.formats.gemini` / :mod:`~gatehouse.formats.gemini_answer`,
downloads media URLs the provider cannot fetch itself, and maps every
failure at this boundary: an HTTP error answer → ``UpstreamError`` with the
status the ``openai`` SDK expects (``retry-after`` kept, or taken from
Gemini's ``RetryInfo``); an answer that is not what the API documents → 502
naming the deployment.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Mapping

import aiohttp
import orjson

from ..errors import BadRequestError, UpstreamError
from ..formats import gemini, gemini_answer, gemini_embed
from ..routing.deployment import Deployment
from .base import BufferedStream, UpstreamStream, map_provider_errors, scrub
from .gemini_stream import GeminiStream, bad_answer

__all__ = ["GeminiWire", "label", "drops_params", "MEDIA_LIMIT"]

MEDIA_LIMIT = 20 * 1024 * 1024
"""Largest media file downloaded for inlining (Gemini's inline request limit)."""
MEDIA_TIMEOUT = 30.0


def label(deployment: Deployment) -> str:
    return f"deployment '{deployment.model_name}' ({deployment.provider}/{deployment.upstream_model})"


def drops_params(deployment: Deployment) -> bool:
    """``drop_params`` for this deployment (its own ``litellm_params``, else ``litellm_settings``)."""
    value = deployment.litellm_params.get("drop_params")
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


class GeminiWire:
    provider_name = "gemini"
    vertex = False

    def __init__(self, *, connect_timeout: float = 10.0) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._connect_timeout = connect_timeout

    # -- what a subclass provides --------------------------------------------------------
    def url(self, deployment: Deployment, method: str) -> str:
        raise NotImplementedError

    async def auth(self, deployment: Deployment) -> tuple[dict[str, str], tuple[str | None, ...]]:
        """(headers, secrets to scrub from messages) for one call."""
        raise NotImplementedError

    # -- the session -----------------------------------------------------------------------
    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _timeout(self, seconds: float, *, stream: bool) -> aiohttp.ClientTimeout:
        if stream:
            return aiohttp.ClientTimeout(total=None, connect=self._connect_timeout, sock_read=seconds)
        return aiohttp.ClientTimeout(total=seconds, connect=self._connect_timeout)

    # -- calls -------------------------------------------------------------------------------
    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        if operation == "embedding":
            return await self.embed(body, deployment, timeout)
        self._only_chat(operation)
        native = await self.chat_body(body, deployment, timeout)
        answer = await self.post(self.url(deployment, "generateContent"), native, deployment, timeout)
        if not isinstance(answer, dict) or not ("candidates" in answer or "promptFeedback" in answer):
            raise bad_answer(label(deployment), "JSON that is not a generateContent answer")
        return gemini_answer.chat_answer(answer, deployment.upstream_model)

    async def stream(self, operation: str, body: dict[str, Any], deployment: Deployment,
                     timeout: float) -> UpstreamStream:
        self._only_chat(operation)
        native = await self.chat_body(body, deployment, timeout)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        translator = gemini_answer.StreamTranslator(deployment.upstream_model, include_usage)
        url = self.url(deployment, "streamGenerateContent")
        resp = await self._open(url + ("&" if "?" in url else "?") + "alt=sse", native, deployment, timeout)
        if resp.content_type == "application/json":  # a proxy that dropped alt=sse: Gemini's JSON array
            try:
                raw = await resp.read()
            finally:
                resp.release()
            return self._buffered(raw, translator, deployment)
        stream = GeminiStream(resp, translator, timeout, label(deployment))
        await stream.prime()
        return stream

    def _only_chat(self, operation: str) -> None:
        if operation != "chat":
            raise BadRequestError(f"{self.provider_name} deployments serve chat completions and embeddings, "
                                  f"not '{operation}'")

    def _buffered(self, raw: bytes, translator: gemini_answer.StreamTranslator,
                  deployment: Deployment) -> BufferedStream:
        events = _json(raw, deployment)
        chunks: list[dict[str, Any]] = []
        for event in events if isinstance(events, list) else [events]:
            if not gemini_answer.is_known_event(event):
                raise bad_answer(label(deployment), "a stream event Gemini does not document")
            chunks += translator.feed(event)
        if not translator.complete:
            raise bad_answer(label(deployment), "a stream that ended before its last event")
        return BufferedStream([orjson.dumps(c) for c in chunks + translator.end()])

    async def chat_body(self, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        urls = gemini.media_urls(body, vertex=self.vertex)
        fetched = await self.fetch_media(urls, timeout) if urls else {}
        return gemini.chat_request(body, model=deployment.upstream_model, provider=self.provider_name,
                                   fetched=fetched, drop_params=drops_params(deployment), ignored=deployment.params)

    async def embed(self, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        items = gemini_embed.texts(body, self.provider_name, drop_params=drops_params(deployment),
                                   ignored=frozenset(deployment.params))
        model = deployment.upstream_model
        if self.vertex:
            native = await self.post(self.url(deployment, "predict"), gemini_embed.vertex_request(body, items),
                                     deployment, timeout)
            return gemini_embed.vertex_answer(_object(native, deployment), body, model, len(items), label(deployment))
        method, request = gemini_embed.studio_request(body, model, items)
        native = await self.post(self.url(deployment, method), request, deployment, timeout)
        return gemini_embed.studio_answer(_object(native, deployment), body, model, len(items), label(deployment))

    # -- HTTP ----------------------------------------------------------------------------------
    async def post(self, url: str, native: dict[str, Any], deployment: Deployment, timeout: float) -> Any:
        headers, secrets = await self.auth(deployment)
        with map_provider_errors(timeout, secrets):
            async with self._client().post(url, data=orjson.dumps(native), headers=headers,
                                           timeout=self._timeout(timeout, stream=False)) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise self.error(resp.status, raw, resp.headers, secrets)
        return _json(raw, deployment)

    async def _open(self, url: str, native: dict[str, Any], deployment: Deployment,
                    timeout: float) -> aiohttp.ClientResponse:
        headers, secrets = await self.auth(deployment)
        with map_provider_errors(timeout, secrets):
            resp = await self._client().post(url, data=orjson.dumps(native), headers=headers,
                                             timeout=self._timeout(timeout, stream=True))
        if resp.status >= 400:
            try:
                raw = await resp.read()
            except (aiohttp.ClientError, asyncio.TimeoutError):
                raw = b""
            finally:
                resp.release()
            raise self.error(resp.status, raw, resp.headers, secrets)
        return resp

    def error(self, status: int, raw: bytes, headers: Mapping[str, str], secrets: tuple[str | None, ...]) -> UpstreamError:
        status, etype, message, retry = gemini_answer.error_from_body(status, raw)
        kept = {"retry-after": headers["retry-after"]} if "retry-after" in headers else {}
        if retry and not kept:
            kept["retry-after"] = retry
        return UpstreamError(f"{self.provider_name}: {scrub(message, secrets)}", status=status, type=etype, headers=kept)

    async def fetch_media(self, urls: list[str], timeout: float) -> dict[str, gemini.Blob]:
        """Download media URLs to inline them (as LiteLLM does); a failure is the client's 400."""
        blobs = await asyncio.gather(*(self._fetch(url, min(timeout, MEDIA_TIMEOUT)) for url in urls))
        return dict(zip(urls, blobs))

    async def _fetch(self, url: str, timeout: float) -> gemini.Blob:
        def failed(why: str) -> BadRequestError:
            return BadRequestError(f"{self.provider_name}: could not download the media at {url}: {why}", param="messages")

        try:
            async with self._client().get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                if resp.status != 200:
                    raise failed(f"HTTP {resp.status}")
                data = bytearray()
                async for piece in resp.content.iter_chunked(65536):
                    data += piece
                    if len(data) > MEDIA_LIMIT:
                        raise failed(f"larger than {MEDIA_LIMIT // (1024 * 1024)} MB")
                kind = resp.content_type
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise failed(type(exc).__name__) from None
        if kind in ("application/octet-stream", "binary/octet-stream", "") or "/" not in kind:
            kind = gemini.media_type(url) or kind or "application/octet-stream"
        return gemini.Blob(kind, base64.b64encode(data).decode())


def _json(raw: bytes, deployment: Deployment) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_answer(label(deployment), "a body that is not JSON") from None


def _object(value: Any, deployment: Deployment) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_answer(label(deployment), "JSON that is not an object")
    return value
