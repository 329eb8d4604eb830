"""OpenAI-compatible upstreams: OpenAI and every row of :mod:`.compatible` (Groq, vLLM, Mistral, ...).

One pooled aiohttp session per gateway process, created once and closed
once. Request bodies are sent as given (unknown fields pass through, the
row's parameter renames applied); streamed answers are relayed event by event
as they arrive. Where each deployment's calls go and with which credential
is worked out once, in :meth:`OpenAICompatibleProvider.check` at start-up
(a :class:`Target`); :class:`~.azure.AzureProvider` builds its own targets.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Mapping, Protocol

import aiohttp
import orjson

from ..errors import BadRequestError, ResponseTooLargeError, UpstreamError
from ..formats.openai_chat import CHAT
from ..formats import rerank
from ..formats.openai_text import TEXT
from ..routing.deployment import Deployment
from .base import (DEFAULT_MAX_RESPONSE_BYTES, BufferedStream, DeploymentProblem, UploadFile, map_provider_errors,
                   read_capped, scrub, scrub_error, too_large_message)
from .compatible import PROVIDERS, Compatible
from .credentials import env_names, from_env
from .translated import bad_answer, json_object

__all__ = ["OpenAICompatibleProvider", "Target", "TokenSource", "PATHS", "CHAT_ONLY", "DEFAULT_MAX_RESPONSE_BYTES"]


PATHS = {
    "chat": "/chat/completions",
    "completion": "/completions",
    "embedding": "/embeddings",
    "image": "/images/generations",
    "moderation": "/moderations",
    "transcription": "/audio/transcriptions",
    "translation": "/audio/translations",
    "speech": "/audio/speech",
    "rerank": "/rerank",
}
CHAT_ONLY = ("chat", "completion")


class TokenSource(Protocol):
    """A bearer token the provider asks for on each call (kept fresh in the background)."""

    async def bearer(self) -> str: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Target:
    """Where one deployment's calls go, with which headers: computed once at start-up."""

    urls: Mapping[str, str]
    """Operation → full URL (query included); an operation missing here is not served."""
    headers: dict[str, str] = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    """The credential, scrubbed from any message."""
    token: TokenSource | None = field(default=None, repr=False)
    """A bearer token fetched per call (Entra ID); ``None`` when ``headers`` carry the credential."""
    rewrite: Rewrite | None = None
    """Parameter renames and ``additional_drop_params``; ``None`` when the body goes as it is."""
    json_headers: dict[str, str] = field(init=False, repr=False)
    timeouts: dict[tuple[float, bool], aiohttp.ClientTimeout] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "json_headers", {**self.headers, "Content-Type": "application/json"})
        object.__setattr__(self, "timeouts", {})

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

    def __init__(self, *, connect_timeout: float = 10.0, environ: Mapping[str, str] | None = None,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._targets: dict[str, Target] = {}
        self._connect_timeout = connect_timeout
        self._environ = environ
        self._max_bytes = max_response_bytes

    def set_max_response_bytes(self, limit: int) -> None:
        """``general_settings.max_response_size_mb`` (the gateway sets it once, at start-up)."""
        self._max_bytes = limit

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def check(self, deployment: Deployment) -> None:
        self._targets[deployment.id] = self.target_for(deployment, self.environ)

    def target_for(self, deployment: Deployment, environ: Mapping[str, str]) -> Target:
        """Base, key and renames from the deployment, its provider's row and the environment."""
        return compatible_target(deployment, environ)

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

    def _target(self, deployment: Deployment) -> Target:
        target = self._targets.get(deployment.id)
        if target is None:
            target = self._targets[deployment.id] = self.target_for(deployment, self.environ)
        return target

    async def _request(self, operation: str, body: dict[str, Any], deployment: Deployment
                       ) -> tuple[Target, str, Any, dict[str, str]]:
        target = self._target(deployment)
        url = target.urls.get(operation)
        if url is None:
            raise BadRequestError(f"{deployment.provider} deployment '{deployment.model_name}' does not serve "
                                  f"{operation} requests")
        if target.rewrite is not None:
            body = target.rewrite(body)
        if "drop_params" in body:  # LiteLLM's per-request switch, never the provider's field
            body = {k: v for k, v in body.items() if k != "drop_params"}
        data, headers = _encode(body, target)
        if target.token is not None:
            headers = {**headers, "Authorization": "Bearer " + await target.token.bearer()}
        return target, url, data, headers

    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        if operation == "rerank":
            return await self._rerank(body, deployment, timeout)
        raw = await self._post(operation, body, deployment, timeout)
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if operation in ("transcription", "translation"):  # text/srt/vtt: {"text": ...}, as LiteLLM answers
                return {"text": raw.decode("utf-8", "replace")}
            raise bad_answer(deployment, "a body that is not JSON") from None
        if not isinstance(answer, dict):
            raise bad_answer(deployment, "JSON that is not an object")
        return answer

    async def _post(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> bytes:
        """One non-streaming call; the answer's bytes (an HTTP error raised as the upstream's error)."""
        target, url, data, headers = await self._request(operation, body, deployment)
        with map_provider_errors(timeout, (target.secret,)):
            async with self._client().post(
                url, data=data, headers=headers, timeout=target.timeout(timeout, stream=False, connect=self._connect_timeout)
            ) as resp:
                raw = await read_capped(resp, self._max_bytes, truncate=resp.status >= 400)
                if resp.status >= 400:
                    raise _upstream_error(resp.status, raw, resp.headers, target.secret)
        return raw

    async def _rerank(self, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        """``{base}/rerank`` of a rerank server (vLLM, Jina, TEI for ``huggingface/``), answered in Cohere's shape."""
        documents = list(body.get("documents") or [])
        native = rerank.server_request(body, model=deployment.upstream_model, tei=deployment.provider == "huggingface")
        raw = await self._post("rerank", native, deployment, timeout)
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise bad_answer(deployment, "a body that is not JSON") from None
        top = body.get("top_n")
        try:
            return rerank.server_answer(answer, documents=documents, return_documents=body.get("return_documents")
                                        is not False, top_n=top if isinstance(top, int) else None)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise bad_answer(deployment, f"a rerank answer that is not what rerank servers send ({exc})") from None

    async def stream(
        self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float
    ) -> "SSEStream | BufferedStream | BytesStream":
        target, url, data, headers = await self._request(operation, body, deployment)
        with map_provider_errors(timeout, (target.secret,)):
            resp = await self._client().post(
                url, data=data, headers=headers, timeout=target.timeout(timeout, stream=True, connect=self._connect_timeout)
            )
        if resp.status >= 400:
            try:
                raw = await read_capped(resp, self._max_bytes, truncate=True)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                raw = b""
            finally:
                resp.release()
            raise _upstream_error(resp.status, raw, resp.headers, target.secret)
        if resp.content_type == "application/json" and operation in CHAT_ONLY:  # it ignored "stream": a stream anyway
            try:
                raw = await read_capped(resp, self._max_bytes)
            finally:
                resp.release()
            chunks = (TEXT if operation == "completion" else CHAT).stream.from_answer(json_object(raw, deployment))
            return BufferedStream([orjson.dumps(chunk) for chunk in chunks])
        if operation == "speech":  # audio: bytes, not events
            return BytesStream(resp, timeout, self._max_bytes)
        return SSEStream(resp, timeout, self._max_bytes)


class BytesStream:
    """A binary answer (``/audio/speech``): its bytes as they arrive, at most ``max_bytes`` in all.

    ``media_type`` is what the upstream says they are (``audio/mpeg``, ...).
    """

    def __init__(self, resp: aiohttp.ClientResponse, timeout: float, max_bytes: int = 0) -> None:
        self._resp = resp
        self._timeout = timeout
        self._max_bytes = max_bytes or DEFAULT_MAX_RESPONSE_BYTES
        self._done = False
        self.upstream_model: str | None = None
        self.media_type: str | None = resp.content_type

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.pieces()

    async def pieces(self) -> AsyncIterator[bytes]:
        total = 0
        with map_provider_errors(self._timeout, streaming=True):
            async for piece in self._resp.content.iter_any():
                total += len(piece)
                if total > self._max_bytes:
                    raise ResponseTooLargeError(too_large_message(self._max_bytes))
                yield piece
        self._done = True

    async def aclose(self) -> None:
        if self._done:
            self._resp.release()
        else:
            self._resp.close()


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
            raise ResponseTooLargeError(too_large_message(self._max_bytes))

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


def _event_payload(event: bytes) -> bytes | None:
    if event.startswith(b"data:") and b"\n" not in event:
        return event[5:].lstrip(b" ")
    lines = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


def compatible_target(deployment: Deployment, environ: Mapping[str, str]) -> Target:
    """The target of an OpenAI-compatible deployment (raises :class:`DeploymentProblem` at start-up)."""
    row = PROVIDERS.get(deployment.provider, PROVIDERS["openai"])
    base = deployment.api_base or from_env(row.base_env, environ) or row.base
    if not base:
        also = f" (or {env_names(row.base_env)})" if row.base_env else ""
        raise DeploymentProblem(f"provider '{deployment.provider}' needs an api_base{also}", "api_base")
    key = deployment.api_key or from_env(row.key_env, environ)
    if not key and row.key_required and row.key_env and base == row.base:
        raise DeploymentProblem(f"no api_key, and {env_names(row.key_env)} is not set", "api_key")
    base = strip_paths(base.rstrip("/"))
    headers = _headers(deployment, {"Authorization": f"Bearer {key}"} if key else {})
    query = f"?api-version={deployment.params['api_version']}" if deployment.params.get("api_version") else ""
    served = CHAT_ONLY if row.chat_only else tuple(PATHS)
    urls = {op: base + PATHS[op] + query for op in served}
    return Target(urls=urls, headers=headers, secret=key, rewrite=rewriter(row, deployment))


def strip_paths(base: str) -> str:
    """``base`` without an endpoint path a user may have written into it (``…/chat/completions``)."""
    for suffix in PATHS.values():
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def _headers(deployment: Deployment, auth: dict[str, str]) -> dict[str, str]:
    params = deployment.params
    headers = {str(k): str(v) for k, v in dict(params.get("extra_headers") or {}).items()}
    headers.update(auth)
    if params.get("organization"):
        headers["OpenAI-Organization"] = str(params["organization"])
    return headers


def rewriter(row: Compatible | None, deployment: Deployment) -> Rewrite | None:
    """The body rewrite for a deployment: its row's renames and value maps, its ``additional_drop_params``."""
    renames = dict(row.renames) if row is not None else {}
    values = {k: dict(v) for k, v in row.values.items()} if row is not None else {}
    dropped = frozenset(str(p) for p in deployment.litellm_params.get("additional_drop_params") or ())
    if not renames and not values and not dropped:
        return None

    def rewrite(body: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, value in body.items():
            if name in dropped:
                continue
            if name in values and isinstance(value, str):
                value = values[name].get(value, value)
            out[renames.get(name, name)] = value
        return out
    return rewrite


def _encode(body: dict[str, Any], target: Target) -> tuple[Any, dict[str, str]]:
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
    """The upstream's error, every field the client or the log sees scrubbed of the deployment's key."""
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
    return scrub_error(UpstreamError(str(message), status=status, type=etype, param=param, headers=kept), (api_key,))

