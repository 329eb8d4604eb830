"""Vertex AI (``vertex_ai/<model>``): Gemini (and Google embedding models) with Google Cloud credentials.

``POST https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}
/publishers/google/models/{model}:generateContent`` (``:streamGenerateContent?alt=sse``;
embeddings ``:predict``), ``Authorization: Bearer <access token>`` minted by
google-auth from ``vertex_credentials`` or Application Default Credentials
(see :mod:`.google_credentials`). ``location`` ``global`` is served by
``aiplatform.googleapis.com``, ``us`` / ``eu`` by ``aiplatform.{geo}.rep.googleapis.com``.

Config: ``vertex_project`` (or ``vertex_ai_project``; else ``VERTEXAI_PROJECT``,
else the credentials' project), ``vertex_location`` (or ``vertex_ai_location``,
``vertex_region``; else ``VERTEXAI_LOCATION``, else ``us-central1``), ``vertex_credentials``, ``api_base`` (a host replacing
Google's, a base ending in ``…/projects/{p}/locations/{l}``, or a full model
path ``…/models/{model}`` as LiteLLM takes it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import BadRequestError
from ..routing.deployment import Deployment
from .base import DeploymentProblem, UpstreamStream
from .gemini import warn_unread_params
from .gemini_wire import GeminiWire, drops_params, label
from .google_credentials import TokenSource, load_credentials, require_google_auth
from .vertex_claude import VertexClaude

__all__ = ["VertexProvider", "vertex_host", "DEFAULT_LOCATION"]

DEFAULT_LOCATION = "us-central1"
READ_PARAMS = frozenset({"extra_headers", "vertex_project", "vertex_location", "vertex_region", "vertex_ai_project",
                         "vertex_ai_location", "safety_settings", "cached_content"})
#: Vertex partner models Gatehouse does not speak (their own wire formats).
_PARTNERS = ("meta/", "llama", "mistral", "codestral", "jamba", "deepseek", "qwen", "openai/", "ai21")


def vertex_host(location: str) -> str:
    if location == "global":
        return "https://aiplatform.googleapis.com"
    if location in ("us", "eu"):
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def model_path(deployment: Deployment, project: str, location: str, publisher: str) -> str:
    """Everything before ``:method`` for a deployment's calls."""
    model = deployment.upstream_model
    base = (deployment.api_base or vertex_host(location)).rstrip("/")
    if "/models/" in base:
        return base
    if "/projects/" in base:
        return f"{base}/publishers/{publisher}/models/{model}"
    return f"{base}/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}"


@dataclass(frozen=True, slots=True)
class _Target:
    path: str
    headers: Mapping[str, str]
    tokens: TokenSource
    claude: bool


class VertexProvider(GeminiWire):
    provider_name = "vertex_ai"
    vertex = True

    def __init__(self, *, connect_timeout: float = 10.0) -> None:
        super().__init__(connect_timeout=connect_timeout)
        self._targets: dict[str, _Target] = {}
        self._sources: dict[str, tuple[TokenSource, str | None]] = {}
        self._claude = VertexClaude(self)

    def check(self, deployment: Deployment) -> None:
        require_google_auth()
        model = deployment.upstream_model
        if model.lower().startswith(_PARTNERS):
            raise DeploymentProblem(f"the Vertex AI partner model '{model}' is not supported (Gemini, Google "
                                    "embedding models and Claude are)", "model")
        warn_unread_params(deployment, READ_PARAMS)
        params = deployment.litellm_params
        tokens, credential_project = self._source(params.get("vertex_credentials"), deployment)
        project = (_text(params.get("vertex_project")) or _text(params.get("vertex_ai_project"))
                   or os.environ.get("VERTEXAI_PROJECT") or credential_project)
        if not project:
            raise DeploymentProblem("no vertex_project, VERTEXAI_PROJECT is not set, and the credentials name no "
                                    "project", "vertex_project")
        location = (_text(params.get("vertex_location")) or _text(params.get("vertex_ai_location"))
                    or _text(params.get("vertex_region")) or os.environ.get("VERTEXAI_LOCATION") or DEFAULT_LOCATION)
        extra: Mapping[str, Any] = deployment.params.get("extra_headers") or {}
        headers = {**{str(k): str(v) for k, v in extra.items()}, "Content-Type": "application/json"}
        claude = model.startswith("claude")
        path = model_path(deployment, project, location, "anthropic" if claude else "google")
        self._targets[deployment.id] = _Target(path, headers, tokens, claude)

    def _source(self, credentials: Any, deployment: Deployment) -> tuple[TokenSource, str | None]:
        """One token source per distinct credential, shared by the deployments that use it."""
        key = json.dumps(credentials, sort_keys=True) if isinstance(credentials, Mapping) else str(credentials)
        found = self._sources.get(key)
        if found is None:
            loaded, project = load_credentials(credentials)
            name = "application default credentials" if credentials is None else "vertex_credentials"
            found = self._sources[key] = (TokenSource(loaded, f"{label(deployment)} {name}"), project)
        return found

    async def start(self) -> None:
        for tokens, _ in self._sources.values():
            tokens.start()

    async def close(self) -> None:
        for tokens, _ in self._sources.values():
            await tokens.close()
        await super().close()

    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        if self._targets[deployment.id].claude:
            self._claude_only_chat(operation, deployment)
            return await self._claude.call(body, deployment, timeout, drops_params(deployment))
        return await super().call(operation, body, deployment, timeout)

    async def stream(self, operation: str, body: dict[str, Any], deployment: Deployment,
                     timeout: float) -> UpstreamStream:
        if self._targets[deployment.id].claude:
            self._claude_only_chat(operation, deployment)
            return await self._claude.stream(body, deployment, timeout, drops_params(deployment))
        return await super().stream(operation, body, deployment, timeout)

    def _claude_only_chat(self, operation: str, deployment: Deployment) -> None:
        if operation != "chat":
            raise BadRequestError(f"Claude on Vertex AI serves chat completions only, not '{operation}' "
                                  f"(model group '{deployment.model_name}')")

    def url(self, deployment: Deployment, method: str) -> str:
        return f"{self._targets[deployment.id].path}:{method}"

    async def auth(self, deployment: Deployment) -> tuple[dict[str, str], tuple[str | None, ...]]:
        target = self._targets[deployment.id]
        token = await target.tokens.token()
        return {**target.headers, "Authorization": f"Bearer {token}"}, (token,)


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None
