"""Google AI Studio (``gemini/<model>``): the Gemini API with an API key.

``POST {api_base}/models/{model}:generateContent`` (streams:
``:streamGenerateContent?alt=sse``; embeddings: ``:embedContent`` /
``:batchEmbedContents``), the key in ``x-goog-api-key`` (never in the URL).
``api_base`` defaults to ``https://generativelanguage.googleapis.com/v1beta``;
a base without a version gets ``/v1beta``; a base that already names the
model (``…/models/<model>``, as Cloudflare's AI Gateway is configured in
LiteLLM) is used as it is. No ``api_key`` → ``GEMINI_API_KEY``, then
``GOOGLE_API_KEY``, read once at start-up.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Mapping

from ..routing.deployment import Deployment
from .base import DeploymentProblem
from .gemini_wire import GeminiWire

__all__ = ["GeminiProvider", "DEFAULT_BASE", "KEY_VARIABLES", "warn_unread_params"]

log = logging.getLogger("gatehouse.providers.gemini")

DEFAULT_BASE = "https://generativelanguage.googleapis.com/v1beta"
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
_VERSIONED = re.compile(r"/v\d+(?:alpha|beta)?\d*$")

#: litellm_params a Gemini deployment reads besides the request fields it translates.
READ_PARAMS = frozenset({"extra_headers", "safety_settings", "cached_content"})
_REQUEST_FIELDS = frozenset({
    "temperature", "top_p", "top_k", "seed", "n", "presence_penalty", "frequency_penalty", "max_tokens",
    "max_completion_tokens", "stop", "response_format", "tools", "tool_choice", "reasoning_effort", "thinking",
    "logprobs", "top_logprobs", "parallel_tool_calls", "dimensions", "task_type",
})


def warn_unread_params(deployment: Deployment, read: frozenset[str]) -> None:
    """Name, once at start-up, each ``litellm_params`` key this provider does not use."""
    for key in deployment.params:
        if key not in read and key not in _REQUEST_FIELDS:
            log.warning("deployment '%s': litellm_params.%s is not used by %s/ deployments; ignored",
                        deployment.model_name, key, deployment.provider)


def model_path(base: str, model: str) -> str:
    """``{base}/models/{model}`` (or ``base`` when it already names a model)."""
    base = base.rstrip("/")
    if "/models/" in base:
        return base
    if not _VERSIONED.search(base):
        base += "/v1beta"
    return f"{base}/models/{model.removeprefix('models/')}"


class GeminiProvider(GeminiWire):
    provider_name = "gemini"
    vertex = False

    def __init__(self, *, connect_timeout: float = 10.0) -> None:
        super().__init__(connect_timeout=connect_timeout)
        self._paths: dict[str, str] = {}
        self._headers: dict[str, dict[str, str]] = {}
        self._keys: dict[str, str] = {}

    def check(self, deployment: Deployment) -> None:
        key = deployment.api_key or next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None)
        if not key:
            raise DeploymentProblem(f"no api_key, and neither {' nor '.join(KEY_VARIABLES)} is set", "api_key")
        warn_unread_params(deployment, READ_PARAMS)
        self._keys[deployment.id] = key
        self._paths[deployment.id] = model_path(deployment.api_base or DEFAULT_BASE, deployment.upstream_model)
        extra: Mapping[str, Any] = deployment.params.get("extra_headers") or {}
        self._headers[deployment.id] = {**{str(k): str(v) for k, v in extra.items()},
                                        "Content-Type": "application/json", "x-goog-api-key": key}

    async def start(self) -> None:
        return None

    def url(self, deployment: Deployment, method: str) -> str:
        return f"{self._paths[deployment.id]}:{method}"

    async def auth(self, deployment: Deployment) -> tuple[dict[str, str], tuple[str | None, ...]]:
        return self._headers[deployment.id], (self._keys[deployment.id],)
