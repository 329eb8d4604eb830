"""Cohere (``cohere/``, ``cohere_chat/``): v2 chat, embed and rerank, translated by :mod:`gatehouse.formats.cohere`.

``{api_base}/v2/chat`` (SSE stream of v2 events when streaming),
``{api_base}/v2/embed``, ``{api_base}/v2/rerank``; ``Authorization: Bearer
<key>``. The key is the deployment's ``api_key``, else ``COHERE_API_KEY`` (or
``CO_API_KEY``, the SDK's name); the base is ``api_base``, else
``COHERE_API_BASE``, else ``https://api.cohere.com``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import BadRequestError
from ..formats import cohere as fmt
from ..routing.deployment import Deployment
from .base import DeploymentProblem
from .credentials import from_env
from .translated import TranslatedStream, TranslatingProvider, bad_answer, drop_params

__all__ = ["CohereProvider", "DEFAULT_API_BASE"]

DEFAULT_API_BASE = "https://api.cohere.com"
KEY_ENV = ("COHERE_API_KEY", "CO_API_KEY")
BASE_ENV = ("COHERE_API_BASE",)
_PATHS = ("/v2/chat", "/v1/chat", "/v2/embed", "/v1/embed", "/v2", "/v1")


@dataclass(frozen=True, slots=True)
class _Target:
    base: str
    key: str = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    stream_headers: dict[str, str] = field(repr=False)


class CohereProvider(TranslatingProvider):
    def __init__(self, *, environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._environ = environ
        self._targets: dict[str, _Target] = {}

    def check(self, deployment: Deployment) -> None:
        env = os.environ if self._environ is None else self._environ
        key = deployment.api_key or from_env(KEY_ENV, env)
        if not key:
            raise DeploymentProblem(f"no api_key, and {KEY_ENV[0]} is not set", "api_key")
        base = (deployment.api_base or from_env(BASE_ENV, env) or DEFAULT_API_BASE).rstrip("/")
        for suffix in _PATHS:
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Accept": "application/json"}
        self._targets[deployment.id] = _Target(base, key, headers, {**headers, "Accept": "text/event-stream"})

    def _target(self, deployment: Deployment) -> _Target:
        target = self._targets.get(deployment.id)
        if target is None:
            self.check(deployment)
            target = self._targets[deployment.id]
        return target

    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        target = self._target(deployment)
        drop = drop_params(body, deployment)
        model = deployment.upstream_model
        if operation == "chat":
            native = fmt.chat_request(body, model=model, drop=drop)
            native.pop("stream", None)
            answer = await self._post(target, "/v2/chat", native, deployment, timeout)
            return _translated(lambda: fmt.chat_answer(answer, model=model), deployment)
        if operation == "embedding":
            native = fmt.embed_request(body, model=model, drop=drop)
            answer = await self._post(target, "/v2/embed", native, deployment, timeout)
            encoding = body.get("encoding_format")
            return _translated(lambda: fmt.embed_answer(answer, model=model, encoding=encoding), deployment)
        if operation == "rerank":
            native = fmt.rerank_request(body, model=model)
            answer = await self._post(target, "/v2/rerank", native, deployment, timeout)
            documents, wanted = list(body.get("documents") or []), body.get("return_documents") is not False
            return _translated(lambda: fmt.rerank_answer(answer, documents=documents, return_documents=wanted),
                               deployment)
        raise _not_served(operation)

    async def _post(self, target: _Target, path: str, native: dict[str, Any], deployment: Deployment,
                    timeout: float) -> dict[str, Any]:
        return await self.post(target.base + path, native, target.headers, timeout, deployment=deployment,
                               errors=fmt.error_details, secrets=(target.key,))

    async def stream(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> TranslatedStream:
        if operation != "chat":
            raise _not_served(operation, streaming=True)
        target = self._target(deployment)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        native = fmt.chat_request(body, model=deployment.upstream_model, drop=drop_params(body, deployment))
        native["stream"] = True
        resp = await self.open(target.base + "/v2/chat", native, target.stream_headers, timeout,
                               errors=fmt.error_details, secrets=(target.key,))
        translator = fmt.ChatStream(deployment.upstream_model, include_usage=include_usage)
        return TranslatedStream(resp, timeout, translator, framing="sse", deployment=deployment)


def _translated(translate: Any, deployment: Deployment) -> dict[str, Any]:
    try:
        return translate()  # type: ignore[no-any-return]
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise bad_answer(deployment, f"an answer that is not what its API documents ({exc})") from None


def _not_served(operation: str, *, streaming: bool = False) -> BadRequestError:
    what = "streamed " + operation if streaming else operation
    return BadRequestError(f"cohere deployments serve chat, embeddings and rerank; not {what}")
