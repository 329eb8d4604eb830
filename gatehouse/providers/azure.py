"""Azure OpenAI (``azure/``) and Azure AI Foundry (``azure_ai/``): OpenAI bodies, Azure URLs and credentials.

``azure/<deployment>`` calls the classic deployment URLs,
``{api_base}/openai/deployments/{deployment}/{chat/completions|completions|embeddings|
images/generations|audio/transcriptions|audio/translations|audio/speech}?api-version={api_version}``, with
``api_version`` from the deployment, else ``AZURE_API_VERSION``, else
``2025-02-01-preview`` (LiteLLM's default). A base ending in ``/openai/v1``
is Azure's v1 API: ``{api_base}/chat/completions`` with the deployment name
as ``model``. The credential, first found wins: the deployment's
``api_key`` (``api-key`` header), ``azure_ad_token``, ``tenant_id`` +
``client_id`` + ``client_secret`` (Entra ID through azure-identity, see
:mod:`.entra`), then the same from the environment: ``AZURE_OPENAI_API_KEY``
/ ``AZURE_API_KEY``, ``AZURE_AD_TOKEN``, ``AZURE_TENANT_ID`` +
``AZURE_CLIENT_ID`` + ``AZURE_CLIENT_SECRET``. The base is ``api_base``, else
``AZURE_API_BASE``.

``azure_ai/<model>`` (Foundry / Azure AI model inference) calls
``{api_base}/chat/completions`` (``…/models/chat/completions`` on
``*.services.ai.azure.com``), ``api-key`` on Azure hosts and
``Authorization: Bearer`` elsewhere, with ``AZURE_AI_API_KEY`` /
``AZURE_AI_API_BASE`` as the environment fallbacks.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping
from urllib.parse import parse_qs, quote, urlsplit

from ..routing.deployment import Deployment
from .base import DeploymentProblem
from .credentials import from_env
from .entra import EntraToken
from .openai import PATHS, OpenAICompatibleProvider, Target, TokenSource, _headers, rewriter, strip_paths

__all__ = ["AzureProvider", "DEFAULT_API_VERSION", "SCOPE", "azure_urls", "foundry_urls", "uses_api_key_header"]

DEFAULT_API_VERSION = "2025-02-01-preview"
SCOPE = "https://cognitiveservices.azure.com/.default"
#: What Azure OpenAI serves per deployment (it has no moderations endpoint).
AZURE_OPERATIONS = ("chat", "completion", "embedding", "image", "transcription", "translation", "speech")
FOUNDRY_OPERATIONS = ("chat", "completion", "embedding", "image")
KEY_ENV = ("AZURE_OPENAI_API_KEY", "AZURE_API_KEY")
ENTRA_ENV = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
_ENTRA_PARAMS = ("tenant_id", "client_id", "client_secret")

Auth = tuple[dict[str, str], str | None, TokenSource | None]


def azure_urls(base: str, deployment: str, version: str, *, explicit_version: bool) -> dict[str, str]:
    """Operation → URL for an Azure OpenAI deployment: classic deployment URLs, or the v1 API's.

    ``base`` may be the resource (``https://x.openai.azure.com``), end in ``/openai``, already
    name a deployment (``…/openai/deployments/d``), or be the v1 API (``…/openai/v1``). An
    ``api-version`` in ``base``'s query wins. The v1 API gets ``api-version`` only when the
    deployment sets one (``explicit_version``).
    """
    parts = urlsplit(base.strip())
    given = parse_qs(parts.query).get("api-version")
    if given:
        version, explicit_version = given[0], True
    root = f"{parts.scheme}://{parts.netloc}"
    path = strip_paths(parts.path.rstrip("/"))
    if path.endswith("/openai/v1"):
        query = f"?api-version={version}" if explicit_version else ""
        return {op: root + path + PATHS[op] + query for op in AZURE_OPERATIONS}
    marker = path.find("/openai/deployments/")
    if marker >= 0:
        name = path[marker + len("/openai/deployments/"):].split("/", 1)[0]
        prefix = root + path[:marker] + "/openai/deployments/" + name
    else:
        if path.endswith("/openai"):
            path = path[: -len("/openai")]
        prefix = root + path + "/openai/deployments/" + quote(deployment, safe="")
    return {op: f"{prefix}{PATHS[op]}?api-version={version}" for op in AZURE_OPERATIONS}


def uses_api_key_header(base: str) -> bool:
    """Foundry: ``api-key`` on ``*.services.ai.azure.com`` / ``*.openai.azure.com``, else a bearer key (as LiteLLM)."""
    host = urlsplit(base).hostname or ""
    return host.endswith(".services.ai.azure.com") or host.endswith(".openai.azure.com")


def foundry_urls(base: str, version: str | None) -> dict[str, str]:
    """Operation → URL for an ``azure_ai/`` deployment (``/models`` added on ``services.ai.azure.com``)."""
    parts = urlsplit(base.strip())
    given = parse_qs(parts.query).get("api-version")
    version = given[0] if given else version
    path = strip_paths(parts.path.rstrip("/"))
    if "services.ai.azure.com" in parts.netloc and not path.endswith("/models"):
        path += "/models"
    query = f"?api-version={version}" if version else ""
    return {op: f"{parts.scheme}://{parts.netloc}{path}{PATHS[op]}{query}" for op in FOUNDRY_OPERATIONS}


class AzureProvider(OpenAICompatibleProvider):
    """Azure OpenAI and Foundry deployments; Entra ID tokens shared per credential and refreshed in the background."""

    def __init__(self, *, connect_timeout: float = 10.0, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(connect_timeout=connect_timeout, environ=environ)
        self._tokens: dict[tuple[str, ...], EntraToken] = {}

    def target_for(self, deployment: Deployment, environ: Mapping[str, str]) -> Target:
        if deployment.provider == "azure_ai":
            return _foundry_target(deployment, environ)
        base = deployment.api_base or from_env(("AZURE_API_BASE",), environ)
        if not base:
            raise DeploymentProblem("no api_base, and AZURE_API_BASE is not set", "api_base")
        given = deployment.params.get("api_version")
        version = str(given or from_env(("AZURE_API_VERSION",), environ) or DEFAULT_API_VERSION)
        urls = azure_urls(base, deployment.upstream_model, version, explicit_version=given is not None)
        auth, secret, token = self._auth(deployment, environ)
        return Target(urls=urls, headers=_headers(deployment, auth), secret=secret, token=token,
                      rewrite=rewriter(None, deployment))

    def _auth(self, deployment: Deployment, environ: Mapping[str, str]) -> Auth:
        """The deployment's own credential first, then the environment's (see the module docstring)."""
        params = deployment.litellm_params
        if deployment.api_key:
            return {"api-key": deployment.api_key}, deployment.api_key, None
        static = _text(params.get("azure_ad_token"))
        if static:
            return _static(static, "azure_ad_token")
        entra = [_text(params.get(name)) for name in _ENTRA_PARAMS]
        if any(entra):
            filled = [value or from_env((env,), environ) for value, env in zip(entra, ENTRA_ENV)]
            missing = [name for name, value in zip(_ENTRA_PARAMS, filled) if not value]
            if missing:
                raise DeploymentProblem(f"Entra ID needs tenant_id, client_id and client_secret; {missing[0]} is "
                                        f"missing (and {ENTRA_ENV[_ENTRA_PARAMS.index(missing[0])]} is not set)",
                                        missing[0])
            return self._entra(filled, params)
        return self._from_environment(params, environ)

    def _from_environment(self, params: Mapping[str, Any], environ: Mapping[str, str]) -> Auth:
        key = from_env(KEY_ENV, environ)
        if key:
            return {"api-key": key}, key, None
        static = from_env(("AZURE_AD_TOKEN",), environ)
        if static:
            return _static(static, "azure_ad_token")
        entra = [from_env((name,), environ) for name in ENTRA_ENV]
        if all(entra):
            return self._entra(entra, params)
        raise DeploymentProblem(
            "no credential: set api_key (or AZURE_API_KEY), azure_ad_token (or AZURE_AD_TOKEN), or tenant_id, "
            "client_id and client_secret (or AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET)", "api_key")

    def _entra(self, values: list[str | None], params: Mapping[str, Any]) -> Auth:
        tenant, client, secret = (str(v) for v in values)
        scope = _text(params.get("azure_scope")) or SCOPE
        key = (tenant, client, hashlib.sha256(secret.encode()).hexdigest(), scope)
        token = self._tokens.get(key)
        if token is None:
            token = self._tokens[key] = EntraToken(tenant, client, secret, scope, field="tenant_id")
        return {}, secret, token

    async def start(self) -> None:
        for token in self._tokens.values():
            await token.start()

    async def close(self) -> None:
        for token in self._tokens.values():
            await token.close()
        await super().close()


def _static(token: str, field: str) -> Auth:
    if token.startswith("oidc/"):
        raise DeploymentProblem("'oidc/…' tokens (exchanged through a secret manager) are not supported; use "
                                "tenant_id, client_id and client_secret, or a token", field)
    return {"Authorization": f"Bearer {token}"}, token, None


def _foundry_target(deployment: Deployment, environ: Mapping[str, str]) -> Target:
    base = deployment.api_base or from_env(("AZURE_AI_API_BASE",), environ)
    if not base:
        raise DeploymentProblem("no api_base, and AZURE_AI_API_BASE is not set", "api_base")
    key = deployment.api_key or from_env(("AZURE_AI_API_KEY",), environ)
    if not key:
        raise DeploymentProblem("no api_key, and AZURE_AI_API_KEY is not set", "api_key")
    auth = {"api-key": key} if uses_api_key_header(base) else {"Authorization": f"Bearer {key}"}
    version = deployment.params.get("api_version")
    return Target(urls=foundry_urls(base, str(version) if version else None), headers=_headers(deployment, auth),
                  secret=key, rewrite=rewriter(None, deployment))


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
