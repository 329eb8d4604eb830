"""Claude on Vertex AI (``vertex_ai/claude-*``): the Anthropic Messages format at ``:rawPredict``.

``POST …/publishers/anthropic/models/{model}:rawPredict`` (streams:
``:streamRawPredict``) with the Vertex access token. The body is what
:func:`gatehouse.formats.anthropic.to_anthropic_request` builds, without
``model`` (the URL names it) and with ``anthropic_version: vertex-2023-10-16``;
``anthropic-beta`` goes as a header when the body needs one. Answers and
stream events are Anthropic's, translated by the same module. Errors come in
two shapes: Google's front end (``{"error": {"code", "status"}}``: quota,
credentials) and the model's own Anthropic errors; both are mapped.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

import aiohttp
import orjson

from ..formats.openai_chat import CHAT
from ..errors import UpstreamError
from ..formats import gemini_answer
from ..formats.anthropic import (AnthropicRequest, StreamTranslator, error_from_anthropic, is_request_field,
                                 to_anthropic_request, to_openai_response)
from ..routing.deployment import Deployment
from .anthropic import AnthropicStream
from .base import BufferedStream, map_provider_errors, scrub
from .gemini_stream import bad_answer
from .gemini_wire import label

__all__ = ["VertexClaude", "ANTHROPIC_VERSION"]

ANTHROPIC_VERSION = "vertex-2023-10-16"


class _Vertex(Protocol):
    """What the Vertex provider lends: its session, its URLs, its credentials."""

    def _client(self) -> aiohttp.ClientSession: ...

    def _timeout(self, seconds: float, *, stream: bool) -> aiohttp.ClientTimeout: ...

    def url(self, deployment: Deployment, method: str) -> str: ...

    async def auth(self, deployment: Deployment) -> tuple[dict[str, str], tuple[str | None, ...]]: ...


class VertexClaude:
    def __init__(self, vertex: _Vertex) -> None:
        self.vertex = vertex

    def request(self, body: Mapping[str, Any], deployment: Deployment, drop_params: bool) -> AnthropicRequest:
        configured = deployment.params
        body = {k: v for k, v in body.items() if k not in configured or is_request_field(k)}
        request = to_anthropic_request(body, model=deployment.upstream_model, drop_params=drop_params,
                                       provider="vertex_ai")
        request.body.pop("model", None)
        request.body["anthropic_version"] = ANTHROPIC_VERSION
        return request

    async def _headers(self, deployment: Deployment, request: AnthropicRequest) -> tuple[dict[str, str], tuple[str | None, ...]]:
        headers, secrets = await self.vertex.auth(deployment)
        if request.betas:
            headers = {**headers, "anthropic-beta": ",".join(request.betas)}
        return headers, secrets

    async def call(self, body: dict[str, Any], deployment: Deployment, timeout: float,
                   drop_params: bool) -> dict[str, Any]:
        request = self.request(body, deployment, drop_params)
        headers, secrets = await self._headers(deployment, request)
        with map_provider_errors(timeout, secrets):
            async with self.vertex._client().post(
                self.vertex.url(deployment, "rawPredict"), data=orjson.dumps(request.body), headers=headers,
                timeout=self.vertex._timeout(timeout, stream=False),
            ) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise self.error(resp.status, raw, resp.headers, secrets)
        answer = _message(raw, label(deployment))
        return to_openai_response(answer, model=deployment.upstream_model, json_tool=request.json_tool)

    async def stream(self, body: dict[str, Any], deployment: Deployment, timeout: float,
                     drop_params: bool) -> AnthropicStream | BufferedStream:
        request = self.request(body, deployment, drop_params)
        request.body["stream"] = True
        headers, secrets = await self._headers(deployment, request)
        with map_provider_errors(timeout, secrets):
            resp = await self.vertex._client().post(
                self.vertex.url(deployment, "streamRawPredict"), data=orjson.dumps(request.body), headers=headers,
                timeout=self.vertex._timeout(timeout, stream=True))
            if resp.status >= 400 or resp.content_type == "application/json":
                try:
                    raw = await resp.read()
                finally:
                    resp.release()
                if resp.status >= 400:
                    raise self.error(resp.status, raw, resp.headers, secrets)
                answer = to_openai_response(_message(raw, label(deployment)), model=deployment.upstream_model,
                                            json_tool=request.json_tool)
                return BufferedStream([orjson.dumps(chunk) for chunk in CHAT.stream.from_answer(answer)])
        options = body.get("stream_options")
        translator = StreamTranslator(deployment.upstream_model, json_tool=request.json_tool, label=label(deployment),
                                      include_usage=isinstance(options, dict) and options.get("include_usage") is True)
        stream = AnthropicStream(resp, translator, timeout)
        await stream.prime()
        return stream

    def error(self, status: int, raw: bytes, headers: Mapping[str, str], secrets: tuple[str | None, ...]) -> UpstreamError:
        try:
            parsed = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("type") == "error":  # the model's own (Anthropic) error
            mapped, etype, message = error_from_anthropic(status, parsed)
            retry = None
        else:  # Vertex's front end: Google's error shape
            mapped, google_type, message, retry = gemini_answer.error_from_body(status, raw)
            etype = google_type or ""
        kept = {"retry-after": headers["retry-after"]} if "retry-after" in headers else {}
        if retry and not kept:
            kept["retry-after"] = retry
        return UpstreamError(f"vertex_ai: {scrub(message, secrets)}", status=mapped, type=etype or None, headers=kept)


def _message(raw: bytes, name: str) -> dict[str, Any]:
    """A 200 answer's body: an Anthropic message, else a 502 naming the deployment."""
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_answer(name, "a body that is not JSON") from None
    if isinstance(answer, dict) and answer.get("type") == "error":
        status, etype, message = error_from_anthropic(200, answer)
        raise UpstreamError(f"vertex_ai: {message}", status=status, type=etype)
    if not isinstance(answer, dict) or not isinstance(answer.get("content"), list):
        raise bad_answer(name, "JSON that is not an Anthropic message")
    return answer
