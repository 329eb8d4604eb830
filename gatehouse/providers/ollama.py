"""Ollama (``ollama/``, ``ollama_chat/``): the native API, translated by :mod:`gatehouse.formats.ollama`.

``ollama_chat/`` chat → ``{api_base}/api/chat``; ``ollama/`` chat →
``{api_base}/api/generate`` with the conversation as one prompt (as LiteLLM
does); text completions → ``/api/generate``, embeddings → ``/api/embed``, for
both. Streams are NDJSON. The base is ``api_base``, else ``OLLAMA_API_BASE``,
else ``http://localhost:11434`` (a base ending in ``/v1``, Ollama's
OpenAI-compatible API, is read as the server's root). ``OLLAMA_API_KEY`` (or
``api_key``), when set, is sent as ``Authorization: Bearer`` (Ollama's cloud);
a local server needs none. Image URLs are fetched by the gateway (Ollama
takes base64 only), up to 20 MB each.
"""

from __future__ import annotations

import asyncio
import base64
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import BadRequestError
from ..formats import ollama as fmt
from ..routing.deployment import Deployment
from .base import map_provider_errors
from .credentials import from_env
from .translated import TranslatedStream, TranslatingProvider, bad_answer, drop_params

__all__ = ["OllamaProvider", "DEFAULT_API_BASE"]

DEFAULT_API_BASE = "http://localhost:11434"
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_SUFFIXES = ("/api/chat", "/api/generate", "/api/embed", "/v1", "/api")


@dataclass(frozen=True, slots=True)
class _Target:
    base: str
    key: str | None = field(repr=False)
    headers: dict[str, str] = field(repr=False)


class OllamaProvider(TranslatingProvider):
    def __init__(self, *, environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._environ = environ
        self._targets: dict[str, _Target] = {}

    def check(self, deployment: Deployment) -> None:
        env = os.environ if self._environ is None else self._environ
        base = (deployment.api_base or from_env(("OLLAMA_API_BASE",), env) or DEFAULT_API_BASE).rstrip("/")
        for suffix in _SUFFIXES:
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        key = deployment.api_key or from_env(("OLLAMA_API_KEY",), env)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._targets[deployment.id] = _Target(base, key, headers)

    def _target(self, deployment: Deployment) -> _Target:
        if deployment.id not in self._targets:
            self.check(deployment)
        return self._targets[deployment.id]

    async def _native(self, operation: str, body: dict[str, Any], deployment: Deployment,
                      timeout: float) -> tuple[str, dict[str, Any]]:
        """The native path and body for an OpenAI request (image URLs fetched first)."""
        drop = drop_params(body, deployment)
        model = deployment.upstream_model
        if operation == "embedding":
            return "/api/embed", fmt.embed_request(body, model=model, drop=drop)
        if operation not in ("chat", "completion"):
            raise BadRequestError(f"ollama deployments serve chat, completions and embeddings; not {operation}")
        images = await self._fetch_images(fmt.image_urls(body), timeout) if operation == "chat" else {}
        if operation == "chat" and deployment.provider == "ollama_chat":
            return "/api/chat", fmt.chat_request(body, model=model, drop=drop, images=images)
        return "/api/generate", fmt.generate_request(body, model=model, drop=drop, images=images)

    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        target = self._target(deployment)
        encoding = body.get("encoding_format")
        path, native = await self._native(operation, body, deployment, timeout)
        if path != "/api/embed":
            native["stream"] = False
        answer = await self.post(target.base + path, native, target.headers, timeout, deployment=deployment,
                                 errors=fmt.error_details, secrets=(target.key,))
        model = deployment.upstream_model
        try:
            if path == "/api/embed":
                return fmt.embed_answer(answer, model=model, encoding=encoding)
            if path == "/api/chat":
                return fmt.chat_answer(answer, model=model)
            return fmt.generate_answer(answer, model=model, chat=operation == "chat")
        except (ValueError, TypeError, AttributeError) as exc:
            raise bad_answer(deployment, f"an answer that is not what its API documents ({exc})") from None

    async def stream(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> TranslatedStream:
        if operation not in ("chat", "completion"):
            raise BadRequestError(f"ollama deployments stream chat and completions; not {operation}")
        target = self._target(deployment)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        path, native = await self._native(operation, body, deployment, timeout)
        native["stream"] = True
        resp = await self.open(target.base + path, native, target.headers, timeout, errors=fmt.error_details,
                               secrets=(target.key,))
        model = deployment.upstream_model
        translator: Any = (fmt.ChatStream(model, include_usage=include_usage) if path == "/api/chat" else
                           fmt.GenerateStream(model, include_usage=include_usage, chat=operation == "chat"))
        return TranslatedStream(resp, timeout, translator, framing="ndjson", deployment=deployment)

    async def _fetch_images(self, urls: list[str], timeout: float) -> dict[str, str]:
        """Image URLs → base64, fetched with the pooled session (Ollama takes base64 only)."""
        if not urls:
            return {}
        fetched = await asyncio.gather(*(self._fetch_image(url, timeout) for url in dict.fromkeys(urls)))
        return dict(zip(dict.fromkeys(urls), fetched))

    async def _fetch_image(self, url: str, timeout: float) -> str:
        with map_provider_errors(timeout):
            async with self._client().get(url, timeout=self._timeout(timeout, False)) as resp:
                if resp.status >= 400:
                    raise BadRequestError(f"could not fetch an image URL for ollama: HTTP {resp.status}",
                                          param="messages")
                data = await resp.content.read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            raise BadRequestError("an image URL for ollama is larger than 20 MB", param="messages")
        return base64.b64encode(data).decode()
