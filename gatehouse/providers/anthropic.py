"""Anthropic's Messages API (``anthropic/<model>``): HTTP and auth; translation is in
:mod:`gatehouse.formats.anthropic`.

``POST {api_base}/v1/messages`` with ``x-api-key`` (the deployment's ``api_key``, else
``ANTHROPIC_API_KEY``; ``ANTHROPIC_AUTH_TOKEN`` goes as a bearer token),
``anthropic-version: 2023-06-01`` and ``anthropic-beta`` when the deployment's
``extra_headers``, the client's ``anthropic-beta`` header or the translated body
ask for one. ``api_base`` defaults to ``ANTHROPIC_API_BASE``, ``ANTHROPIC_BASE_URL``,
then ``https://api.anthropic.com``. Streams are read as they arrive and translated
event by event; an error event before the first chunk is raised before the
stream is handed over, so the router can still retry it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, AsyncIterator, Mapping

import aiohttp
import orjson

from ..errors import BadRequestError, UpstreamError
from ..formats.openai_chat import CHAT
from ..formats.anthropic import (AnthropicRequest, ModelTraits, SSEDecoder, StreamTranslator, error_from_anthropic,
                                 is_request_field, model_traits, to_anthropic_request, to_openai_response)
from ..routing.deployment import Deployment
from .base import BufferedStream, DeploymentProblem, map_provider_errors, scrub

__all__ = ["AnthropicProvider", "AnthropicStream", "DEFAULT_API_BASE", "API_VERSION"]

log = logging.getLogger("gatehouse.providers")

DEFAULT_API_BASE = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
#: ``litellm_params`` that configure the HTTP request rather than the body.
SETTINGS = frozenset({"extra_headers", "max_retries", "stream_timeout", "anthropic_version"})
#: Request-level ``extra_headers`` never override these.
_PROTECTED = frozenset({"x-api-key", "authorization", "host", "content-length", "content-type"})


@dataclass(slots=True)
class _Target:
    """Per-deployment request pieces, computed once in ``check``."""

    url: str
    headers: dict[str, str]
    betas: tuple[str, ...]
    secrets: tuple[str, ...]
    traits: ModelTraits
    drop_params: bool
    ignored: frozenset[str]
    label: str
    timeouts: dict[tuple[float, bool], aiohttp.ClientTimeout] = field(default_factory=dict)

    def timeout(self, seconds: float, *, stream: bool, connect: float) -> aiohttp.ClientTimeout:
        found = self.timeouts.get((seconds, stream))
        if found is None:
            found = self.timeouts[(seconds, stream)] = (
                aiohttp.ClientTimeout(total=None, connect=connect, sock_read=seconds) if stream
                else aiohttp.ClientTimeout(total=seconds, connect=connect))
        return found

    def headers_for(self, request: AnthropicRequest, extra: Any) -> dict[str, str]:
        """The deployment's headers, plus the request's ``extra_headers`` and beta features."""
        if not request.betas and not extra:
            return self.headers
        headers = dict(self.headers)
        betas = list(self.betas)
        if isinstance(extra, Mapping):
            for name, value in extra.items():
                lowered = str(name).lower()
                if lowered == "anthropic-beta":
                    betas += _split(str(value))
                elif lowered not in _PROTECTED and value is not None:
                    headers[lowered] = str(value)
        betas += request.betas
        if betas:
            headers["anthropic-beta"] = ",".join(dict.fromkeys(betas))
        return headers


class AnthropicProvider:
    """Every ``anthropic/`` deployment of a gateway process: one pooled session."""

    forwarded_headers = ("anthropic-beta",)
    """Client request headers the flow hands over (as the body's ``extra_headers``), as LiteLLM forwards them."""

    def __init__(self, *, connect_timeout: float = 10.0) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._targets: dict[str, _Target] = {}
        self._connect_timeout = connect_timeout

    def check(self, deployment: Deployment) -> None:
        self._targets[deployment.id] = _build_target(deployment)

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

    def _prepare(self, operation: str, body: dict[str, Any], deployment: Deployment,
                 stream: bool) -> tuple[_Target, AnthropicRequest, dict[str, str]]:
        if operation != "chat":
            raise BadRequestError(f"anthropic deployments serve chat completions only, not '{operation}' "
                                  f"(model group '{deployment.model_name}')")
        target = self._targets.get(deployment.id)
        if target is None:
            target = self._targets[deployment.id] = _build_target(deployment)
        if target.ignored:
            body = {k: v for k, v in body.items() if k not in target.ignored}
        request = to_anthropic_request(body, model=deployment.upstream_model, traits=target.traits,
                                       drop_params=target.drop_params)
        if stream:
            request.body["stream"] = True
        return target, request, target.headers_for(request, body.get("extra_headers"))

    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        target, request, headers = self._prepare(operation, body, deployment, stream=False)
        with map_provider_errors(timeout, target.secrets):
            async with self._client().post(
                target.url, data=orjson.dumps(request.body), headers=headers,
                timeout=target.timeout(timeout, stream=False, connect=self._connect_timeout),
            ) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise _upstream_error(resp.status, raw, resp.headers, target)
        return to_openai_response(_message(raw, target), model=deployment.upstream_model, json_tool=request.json_tool)

    async def stream(self, operation: str, body: dict[str, Any], deployment: Deployment,
                     timeout: float) -> "AnthropicStream | BufferedStream":
        target, request, headers = self._prepare(operation, body, deployment, stream=True)
        with map_provider_errors(timeout, target.secrets):
            resp = await self._client().post(
                target.url, data=orjson.dumps(request.body), headers=headers,
                timeout=target.timeout(timeout, stream=True, connect=self._connect_timeout))
            if resp.status >= 400 or resp.content_type == "application/json":
                try:
                    raw = await resp.read()
                finally:
                    resp.release()
                if resp.status >= 400:
                    raise _upstream_error(resp.status, raw, resp.headers, target)
                answer = to_openai_response(_message(raw, target), model=deployment.upstream_model,
                                            json_tool=request.json_tool)
                return BufferedStream([orjson.dumps(chunk) for chunk in CHAT.stream.from_answer(answer)])
        options = body.get("stream_options")
        translator = StreamTranslator(
            deployment.upstream_model, json_tool=request.json_tool, label=target.label,
            include_usage=isinstance(options, dict) and options.get("include_usage") is True)
        stream = AnthropicStream(resp, translator, timeout)
        await stream.prime()
        return stream


class AnthropicStream:
    """An open Anthropic stream, read as OpenAI chunk payloads (see ``UpstreamStream``)."""

    def __init__(self, resp: aiohttp.ClientResponse, translator: StreamTranslator, timeout: float) -> None:
        self._resp = resp
        self._translator = translator
        self._timeout = timeout
        self._decoder = SSEDecoder()
        self._pending: list[bytes] = []
        self._done = False
        self._reader = self._batches()
        self.upstream_model: str | None = None

    async def _batches(self) -> AsyncGenerator[list[bytes], None]:
        """The payloads translated from each piece the connection delivers."""
        decoder = self._decoder
        with map_provider_errors(self._timeout, streaming=True):
            async for piece in self._resp.content.iter_any():
                out, error = self._translate(decoder.feed(piece))
                if out:
                    yield out
                if error is not None:
                    raise error
        out, error = self._translate(decoder.close())
        if out:
            yield out
        if error is not None:
            raise error
        self._translator.end()
        self._done = True

    def _translate(self, events: list[bytes]) -> tuple[list[bytes], UpstreamError | None]:
        """The chunks of ``events``; an error is returned after the chunks before it, which go out first."""
        out: list[bytes] = []
        try:
            for data in events:
                out += self._translator.feed(data)
        except UpstreamError as error:
            return out, error
        return out, None

    async def prime(self) -> None:
        """Read until the first chunk: an error event or a broken answer raises here, before any byte is sent."""
        try:
            self._pending = await self._reader.__anext__()
        except StopAsyncIteration:
            self._pending = []
        except BaseException:
            await self.aclose()
            raise

    async def _all(self) -> AsyncIterator[list[bytes]]:
        if self._pending:
            first, self._pending = self._pending, []
            yield first
        async for batch in self._reader:
            yield batch

    async def _payloads(self) -> AsyncIterator[bytes]:
        async for batch in self._all():
            for payload in batch:
                yield payload

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._payloads()

    async def pieces(self) -> AsyncIterator[bytes]:
        """The chunks as OpenAI SSE bytes, one piece per piece read from Anthropic."""
        async for batch in self._all():
            yield b"".join([b"data: " + payload + b"\n\n" for payload in batch])

    async def aclose(self) -> None:
        await self._reader.aclose()
        if self._done:
            self._resp.release()
        else:
            self._resp.close()  # abandon the connection: Anthropic sees the disconnect and stops generating


def _build_target(deployment: Deployment) -> _Target:
    key = deployment.api_key or os.environ.get("ANTHROPIC_API_KEY")
    token = None if key else os.environ.get("ANTHROPIC_AUTH_TOKEN")
    if not key and not token:
        raise DeploymentProblem("no api_key is set and the environment variable ANTHROPIC_API_KEY is empty",
                                "api_key")
    params = deployment.params
    headers = {"anthropic-version": str(params.get("anthropic_version") or API_VERSION),
               "content-type": "application/json", "accept": "application/json"}
    if key:
        headers["x-api-key"] = key
    else:
        headers["authorization"] = f"Bearer {token}"
    betas: list[str] = []
    extra = params.get("extra_headers") or {}
    if not isinstance(extra, Mapping):
        raise DeploymentProblem("extra_headers must be a mapping of header names to values", "extra_headers")
    for name, value in extra.items():
        if str(name).lower() == "anthropic-beta":
            betas += _split(str(value))
        else:
            headers[str(name).lower()] = str(value)
    if betas:
        headers["anthropic-beta"] = ",".join(dict.fromkeys(betas))
    return _Target(
        url=_messages_url(deployment.api_base or os.environ.get("ANTHROPIC_API_BASE")
                          or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_API_BASE),
        headers=headers, betas=tuple(betas), secrets=tuple(s for s in (key, token) if s),
        traits=_traits(deployment), drop_params=_flag(deployment.litellm_params.get("drop_params")),
        ignored=_ignored(deployment), label=f"anthropic deployment '{deployment.model_name}'",
    )


def _messages_url(base: str) -> str:
    base = base.rstrip("/")
    if base.endswith("/v1/messages"):
        return base
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")


def _traits(deployment: Deployment) -> ModelTraits:
    """The model's traits; ``model_info.max_output_tokens`` / ``max_tokens`` override the ceiling."""
    fallback = os.environ.get("DEFAULT_ANTHROPIC_CHAT_MAX_TOKENS", "")
    traits = model_traits(deployment.upstream_model,
                          default_max_tokens=int(fallback) if fallback.isdigit() else 4096)
    for name in ("max_output_tokens", "max_tokens"):
        value = deployment.model_info.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return ModelTraits(value, traits.structured_outputs, traits.adaptive_thinking)
    return traits


def _ignored(deployment: Deployment) -> frozenset[str]:
    """Deployment params that are neither request fields nor settings: warned about once, never sent."""
    unknown = frozenset(k for k in deployment.params if not is_request_field(k) and k not in SETTINGS)
    for name in sorted(unknown):
        log.warning("deployment '%s': litellm_params.%s is not used by anthropic deployments; ignored",
                    deployment.model_name, name)
    return unknown


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"))


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _message(raw: bytes, target: _Target) -> dict[str, Any]:
    """A 200 answer's body: an Anthropic message, else a 502 naming the deployment."""
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError(f"{target.label} answered with a body that is not JSON", status=502) from None
    if isinstance(answer, dict) and answer.get("type") == "error":
        status, etype, message = error_from_anthropic(200, answer)
        raise UpstreamError(scrub(message, target.secrets), status=status, type=etype)
    if not isinstance(answer, dict) or not isinstance(answer.get("content"), list):
        raise UpstreamError(f"{target.label} answered with JSON that is not a message", status=502)
    return answer


def _upstream_error(status: int, raw: bytes, headers: Mapping[str, str], target: _Target) -> UpstreamError:
    mapped, etype, message = error_from_anthropic(status, raw)
    kept = {"retry-after": headers["retry-after"]} if "retry-after" in headers else {}
    return UpstreamError(scrub(message, target.secrets), status=mapped, type=etype, headers=kept)
