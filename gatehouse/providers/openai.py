"""OpenAI-compatible upstreams (OpenAI, Azure OpenAI v1, vLLM, Ollama, Groq, ...).

One pooled aiohttp session per gateway process, created once and closed
once. Request bodies are sent as given (unknown fields pass through);
streamed answers are relayed event by event as they arrive.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp
import orjson

from ..answers import as_chunks
from ..errors import ResponseTooLargeError, UpstreamError
from ..routing.deployment import Deployment
from .base import BufferedStream, DeploymentProblem, UploadFile, map_provider_errors, scrub

__all__ = ["OpenAICompatibleProvider", "DEFAULT_API_BASES", "DEFAULT_MAX_RESPONSE_BYTES"]

#: Largest upstream answer relayed (``general_settings.max_response_size_mb``, 8 MB).
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024

PATHS = {
    "chat": "/chat/completions",
    "completion": "/completions",
    "embedding": "/embeddings",
    "image": "/images/generations",
    "moderation": "/moderations",
    "transcription": "/audio/transcriptions",
}

#: Where providers that speak the OpenAI API live when ``api_base`` is not set.
DEFAULT_API_BASES = {
    "openai": "https://api.openai.com/v1",
    "text-completion-openai": "https://api.openai.com/v1",
    "groq": "https://api.groq.com/openai/v1",
    "together_ai": "https://api.together.xyz/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "mistral": "https://api.mistral.ai/v1",
    "fireworks_ai": "https://api.fireworks.ai/inference/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "xai": "https://api.x.ai/v1",
    "perplexity": "https://api.perplexity.ai",
}
#: Providers that need an explicit ``api_base``.
SELF_HOSTED = ("azure", "hosted_vllm", "vllm", "openai_like", "custom_openai", "lm_studio", "ollama_chat", "ollama")

#: litellm_params that shape the HTTP request rather than the body.
TRANSPORT_PARAMS = frozenset({"api_version", "organization", "extra_headers", "stream_timeout", "max_retries"})


@dataclass(frozen=True, slots=True)
class _Target:
    """Per-deployment request pieces, computed once."""

    base: str
    query: str
    headers: dict[str, str]
    json_headers: dict[str, str]
    api_key: str | None
    timeouts: dict[tuple[float, bool], aiohttp.ClientTimeout]

    def timeout(self, seconds: float, *, stream: bool, connect: float) -> aiohttp.ClientTimeout:
        found = self.timeouts.get((seconds, stream))
        if found is None:
            found = self.timeouts[(seconds, stream)] = (
                aiohttp.ClientTimeout(total=None, connect=connect, sock_read=seconds) if stream
                else aiohttp.ClientTimeout(total=seconds, connect=connect)
            )
        return found


class OpenAICompatibleProvider:
    """``max_response_bytes`` caps one answer, and one streamed answer in all: past it, a 502."""

    def __init__(self, *, connect_timeout: float = 10.0, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._targets: dict[str, _Target] = {}
        self._connect_timeout = connect_timeout
        self._max_bytes = max_response_bytes

    def set_max_response_bytes(self, limit: int) -> None:
        """``general_settings.max_response_size_mb`` (the gateway sets it once, at start-up)."""
        self._max_bytes = limit

    def check(self, deployment: Deployment) -> None:
        if deployment.provider in SELF_HOSTED and not deployment.api_base:
            raise DeploymentProblem(f"provider '{deployment.provider}' needs an api_base", "api_base")

    async def start(self) -> None:
        return None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, json_serialize=lambda o: orjson.dumps(o).decode(), skip_auto_headers=("User-Agent",)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _target(self, deployment: Deployment) -> _Target:
        target = self._targets.get(deployment.id)
        if target is None:
            target = self._targets[deployment.id] = _build_target(deployment)
        return target

    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        target = self._target(deployment)
        url = target.base + PATHS[operation] + target.query
        data, headers = _encode(body, target)
        with map_provider_errors(timeout, (target.api_key,)):
            async with self._client().post(
                url, data=data, headers=headers, timeout=target.timeout(timeout, stream=False, connect=self._connect_timeout)
            ) as resp:
                raw = await _read_capped(resp, self._max_bytes, truncate=resp.status >= 400)
                if resp.status >= 400:
                    raise _upstream_error(resp.status, raw, resp.headers, target.api_key)
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if operation == "transcription":  # response_format text/srt/vtt: {"text": ...}, as LiteLLM answers
                return {"text": raw.decode("utf-8", "replace")}
            raise UpstreamError("The upstream answered with a body that is not JSON", status=502) from None
        if not isinstance(answer, dict):
            raise UpstreamError("The upstream answered with JSON that is not an object", status=502)
        return answer

    async def stream(
        self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float
    ) -> "SSEStream | BufferedStream":
        target = self._target(deployment)
        url = target.base + PATHS[operation] + target.query
        data, headers = _encode(body, target)
        with map_provider_errors(timeout, (target.api_key,)):
            resp = await self._client().post(
                url, data=data, headers=headers, timeout=target.timeout(timeout, stream=True, connect=self._connect_timeout)
            )
        if resp.status >= 400:
            try:
                raw = await _read_capped(resp, self._max_bytes, truncate=True)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                raw = b""
            finally:
                resp.release()
            raise _upstream_error(resp.status, raw, resp.headers, target.api_key)
        if resp.content_type == "application/json":  # a server that ignored "stream": answer as a stream anyway
            try:
                raw = await _read_capped(resp, self._max_bytes)
            finally:
                resp.release()
            return BufferedStream([orjson.dumps(chunk) for chunk in as_chunks(_json_object(raw))])
        return SSEStream(resp, timeout, self._max_bytes)


class SSEStream:
    """The ``data:`` payloads of an upstream SSE answer (see ``UpstreamStream``).

    A stream must end with ``data: [DONE]``: one that ends without it (the
    upstream closed early) raises, so the client gets an error event instead
    of an answer that looks complete. At most ``max_bytes`` are read in all.
    """

    def __init__(self, resp: aiohttp.ClientResponse, timeout: float, max_bytes: int = 0) -> None:
        self._resp = resp
        self._timeout = timeout
        self._max_bytes = max_bytes or DEFAULT_MAX_RESPONSE_BYTES
        self._done = False
        self.upstream_model: str | None = None

    def _count(self, total: int) -> None:
        if total > self._max_bytes:
            raise ResponseTooLargeError(_too_large(self._max_bytes))

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._events()

    async def _events(self) -> AsyncIterator[bytes]:
        buffer = b""
        total = 0
        with map_provider_errors(self._timeout, streaming=True):
            async for piece in self._resp.content.iter_any():
                total += len(piece)
                self._count(total)
                if b"\r" in piece:
                    piece = piece.replace(b"\r\n", b"\n")
                buffer += piece
                while (end := buffer.find(b"\n\n")) >= 0:
                    payload = _event_payload(buffer[:end])
                    buffer = buffer[end + 2:]
                    if payload is None:
                        continue
                    if payload == b"[DONE]":
                        self._done = True
                        return
                    yield payload
        tail = _event_payload(buffer.strip()) if buffer.strip() else None
        self._done = True
        if tail == b"[DONE]":
            return
        if tail is not None:
            yield tail
        raise _ended_early()

    async def pieces(self) -> AsyncIterator[bytes]:
        """The answer's bytes as they arrive, cut at event boundaries (a partial event waits for its end)."""
        total, seen_done, pending = 0, False, b""
        with map_provider_errors(self._timeout, streaming=True):
            async for piece in self._resp.content.iter_any():
                total += len(piece)
                self._count(total)
                data = pending + piece if pending else piece
                end = _event_end(data)
                pending = data[end:]
                if end:
                    seen_done = seen_done or b"[DONE]" in data
                    yield data[:end] if pending else data
        self._done = True
        if pending.strip():
            seen_done = seen_done or b"[DONE]" in pending
            yield pending
        if not seen_done:
            raise _ended_early()

    async def aclose(self) -> None:
        if self._done:
            self._resp.release()
        else:
            self._resp.close()  # abandon the connection: the upstream sees the disconnect


def _event_end(data: bytes) -> int:
    """Where the last complete SSE event of ``data`` ends (0: none is complete)."""
    lf, crlf = data.rfind(b"\n\n"), data.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)


def _ended_early() -> UpstreamError:
    return UpstreamError("The upstream stream ended before its last event ([DONE]): the answer is incomplete",
                         status=502)


def _too_large(limit: int) -> str:
    return (f"The upstream answer is larger than {limit} bytes "
            "(general_settings.max_response_size_mb); it was not relayed")


async def _read_capped(resp: aiohttp.ClientResponse, limit: int, *, truncate: bool = False) -> bytes:
    """The whole body, at most ``limit`` bytes (an error body is cut there; an answer is refused)."""
    length = resp.content_length
    if length is not None and length > limit and not truncate:
        raise ResponseTooLargeError(_too_large(limit))
    received = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        received += chunk
        if len(received) > limit:
            if truncate:
                return bytes(received[:limit])
            raise ResponseTooLargeError(_too_large(limit))
    return bytes(received)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError("The upstream answered with a body that is not JSON", status=502) from None
    if not isinstance(answer, dict):
        raise UpstreamError("The upstream answered with JSON that is not an object", status=502)
    return answer


def _event_payload(event: bytes) -> bytes | None:
    if event.startswith(b"data:") and b"\n" not in event:
        return event[5:].lstrip(b" ")
    lines = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


def _build_target(deployment: Deployment) -> _Target:
    base = deployment.api_base or DEFAULT_API_BASES.get(deployment.provider, DEFAULT_API_BASES["openai"])
    base = base.rstrip("/")
    for suffix in PATHS.values():
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    params = deployment.params
    headers = {str(k): str(v) for k, v in dict(params.get("extra_headers") or {}).items()}
    key = deployment.api_key
    if key:
        if deployment.provider == "azure":
            headers["api-key"] = key
        else:
            headers["Authorization"] = f"Bearer {key}"
    if params.get("organization"):
        headers["OpenAI-Organization"] = str(params["organization"])
    query = f"?api-version={params['api_version']}" if params.get("api_version") else ""
    json_headers = {**headers, "Content-Type": "application/json"}
    return _Target(base=base, query=query, headers=headers, json_headers=json_headers, api_key=key, timeouts={})


def _encode(body: dict[str, Any], target: _Target) -> tuple[Any, dict[str, str]]:
    upload = body.get("file")
    if isinstance(upload, UploadFile):
        form = aiohttp.FormData()
        for name, value in body.items():
            if name == "file" or value is None:
                continue
            if isinstance(value, list):  # form arrays go out as repeated `name[]` fields
                for item in value:
                    form.add_field(f"{name}[]", item if isinstance(item, str) else orjson.dumps(item).decode())
                continue
            form.add_field(name, value if isinstance(value, str) else orjson.dumps(value).decode())
        form.add_field("file", upload.data, filename=upload.filename, content_type=upload.content_type)
        return form, target.headers
    return orjson.dumps(body), target.json_headers


def _upstream_error(status: int, raw: bytes, headers: Any, api_key: str | None) -> UpstreamError:
    message, etype, param = f"Upstream answered HTTP {status}", None, None
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        message = err.get("message") or message
        etype = err.get("type") if isinstance(err.get("type"), str) else None
        param = err.get("param") if isinstance(err.get("param"), str) else None
    elif isinstance(err, str):
        message = err
    elif isinstance(body, dict) and isinstance(body.get("detail"), str):
        message = body["detail"]
    kept = {"retry-after": headers["retry-after"]} if "retry-after" in headers else {}
    return UpstreamError(scrub(str(message), (api_key,)), status=status, type=etype, param=param, headers=kept)

