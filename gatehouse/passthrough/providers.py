"""The provider routes' targets, built at start-up from ``model_list`` and the environment (see :mod:`.targets`).

A deployment lends its credential to its provider's route when its
``litellm_params.use_in_pass_through`` is true (the first such deployment of
the provider; for Vertex AI, every one, by project and location). Google and
AWS credentials are loaded here, once (their libraries are optional extras: a
route that needs a missing one stops start-up naming the extra).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from ..config.errors import ConfigError
from ..providers.base import DeploymentProblem
from ..providers.bedrock_target import endpoint_for, parse_model, region_for
from ..providers.credentials import from_env
from ..routing.deployment import Deployment
from .routes import PROVIDER_PREFIXES, Route, with_settings
from .targets import Target, Unconfigured, key_target

__all__ = ["provider_routes"]

log = logging.getLogger("gatehouse.passthrough")

_PROVIDER_NAMES = {"cohere": ("cohere", "cohere_chat"), "vertex_ai": ("vertex_ai", "vertex_ai_beta")}
_AWS_SIGNALS = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_BEARER_TOKEN_BEDROCK")


def _lent(deployments: Sequence[Deployment], provider: str) -> list[Deployment]:
    names = _PROVIDER_NAMES.get(provider, (provider,))
    return [d for d in deployments if d.provider in names and _truthy(d.litellm_params.get("use_in_pass_through"))]


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def provider_routes(deployments: Sequence[Deployment], *, environ: Mapping[str, str],
                    default_vertex_config: Mapping[str, Any] | None, settings: Mapping[str, Mapping[str, Any]],
                    source: str) -> list[Route]:
    """One route per provider prefix (``/vertex-ai`` shares ``/vertex_ai``'s target)."""
    built: dict[str, tuple[Target, Deployment | None]] = {}
    routes = []
    for prefix, provider in PROVIDER_PREFIXES.items():
        if provider not in built:
            built[provider] = _target(provider, prefix, deployments, environ, default_vertex_config, source)
        target, lent = built[provider]
        route = Route(prefix=prefix, target=target, provider=provider, deployment_id=lent.id if lent else None,
                      deployment_model=parse_model(lent.upstream_model)[0] if lent and provider == "bedrock"
                      else lent.upstream_model if lent else None)
        routes.append(with_settings(route, settings.get(prefix)))
    return routes


def _target(provider: str, prefix: str, deployments: Sequence[Deployment], environ: Mapping[str, str],
            default_vertex_config: Mapping[str, Any] | None, source: str) -> tuple[Target, Deployment | None]:
    lent = _lent(deployments, provider)
    try:
        if provider == "vertex_ai":
            return _vertex(prefix, lent, environ, default_vertex_config), None
        if provider == "bedrock":
            return _bedrock(prefix, lent[0] if lent else None, environ), lent[0] if lent else None
    except DeploymentProblem as problem:
        where = f"model_list ({lent[0].model_name}).litellm_params.{problem.field}" if lent and problem.field else (
            "default_vertex_config" if provider == "vertex_ai" else "environment")
        raise ConfigError(f"pass-through route {prefix}: {problem.message}", key=where, source=source) from None
    deployment = lent[0] if lent else None
    return key_target(provider, prefix, deployment, environ), deployment


def _bedrock(prefix: str, deployment: Deployment | None, environ: Mapping[str, str]) -> Target:
    if deployment is None and not any(environ.get(name) for name in _AWS_SIGNALS):
        return Unconfigured("bedrock", prefix, "add a bedrock/ deployment with use_in_pass_through: true, or set "
                            "AWS credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE / AWS_BEARER_TOKEN_BEDROCK) and AWS_REGION")
    try:
        from ..providers import aws_credentials
        from .cloud_targets import BedrockTarget, agent_endpoint
    except ImportError:
        raise DeploymentProblem("the /bedrock route needs botocore: pip install 'gatehouse[bedrock]'") from None
    lp: Mapping[str, Any] = deployment.litellm_params if deployment is not None else {}
    embedded = parse_model(deployment.upstream_model)[1] if deployment is not None else None
    region = region_for(lp, embedded, environ, None)
    if deployment is not None:
        endpoint = endpoint_for(deployment, region, environ)
    else:
        endpoint = (environ.get("AWS_BEDROCK_RUNTIME_ENDPOINT") or f"https://bedrock-runtime.{region}.amazonaws.com")
    explicit = any(lp.get(k) for k in ("aws_access_key_id", "aws_profile_name", "aws_role_name"))
    bearer = (deployment.api_key if deployment is not None else None) or (
        None if explicit else from_env(("AWS_BEARER_TOKEN_BEDROCK",), environ))
    keys = None
    if bearer is None:
        spec = aws_credentials.CredentialSpec.from_params(lp, region)
        keys = aws_credentials.keys_for(spec, deployment.model_name if deployment is not None else "pass-through")
    return BedrockTarget(prefix, region, endpoint.rstrip("/"), agent_endpoint(endpoint, region), keys=keys,
                         bearer=bearer)


def _vertex(prefix: str, lent: list[Deployment], environ: Mapping[str, str],
            default_config: Mapping[str, Any] | None) -> Target:
    default_spec = _default_vertex(default_config, environ)
    if not lent and default_spec is None:
        return Unconfigured("vertex_ai", prefix, "add a vertex_ai/ deployment with use_in_pass_through: true, or "
                            "set default_vertex_config (or DEFAULT_VERTEXAI_PROJECT / DEFAULT_VERTEXAI_LOCATION)")
    from ..providers.google_credentials import TokenSource, load_credentials
    from .cloud_targets import VertexCredential, VertexTarget

    sources: dict[str, tuple[Any, str | None]] = {}

    def source_for(credentials: Any, label: str) -> tuple[Any, str | None]:
        key = json.dumps(credentials, sort_keys=True) if isinstance(credentials, Mapping) else str(credentials)
        if key not in sources:
            loaded, project = load_credentials(credentials)
            sources[key] = (TokenSource(loaded, f"pass-through {prefix} {label}"), project)
        return sources[key]

    credentials: dict[tuple[str, str], Any] = {}
    for d in lent:
        lp = d.litellm_params
        tokens, found_project = source_for(lp.get("vertex_credentials"), f"(deployment '{d.model_name}')")
        project = _text(lp.get("vertex_project")) or _text(lp.get("vertex_ai_project")) or found_project
        location = _text(lp.get("vertex_location")) or _text(lp.get("vertex_ai_location")) or "us-central1"
        if not project:
            raise DeploymentProblem("the deployment names no vertex_project", "vertex_project")
        credentials.setdefault((project, location), VertexCredential(project, location, tokens, _host(d.api_base)))
    default = None
    if default_spec is not None:
        tokens, found_project = source_for(default_spec.get("vertex_credentials"), "(default_vertex_config)")
        project = _text(default_spec.get("vertex_project")) or found_project
        if not project:
            raise DeploymentProblem("default_vertex_config names no vertex_project", "vertex_project")
        location = _text(default_spec.get("vertex_location")) or "us-central1"
        default = VertexCredential(project, location, tokens, _host(default_spec.get("api_base")))
    elif credentials:
        default = next(iter(credentials.values()))
    return VertexTarget(prefix, credentials, default)


def _default_vertex(config: Mapping[str, Any] | None, environ: Mapping[str, str]) -> Mapping[str, Any] | None:
    if isinstance(config, Mapping) and config:
        return config
    project = environ.get("DEFAULT_VERTEXAI_PROJECT")
    if not project:
        return None
    return {"vertex_project": project, "vertex_location": environ.get("DEFAULT_VERTEXAI_LOCATION"),
            "vertex_credentials": environ.get("DEFAULT_GOOGLE_APPLICATION_CREDENTIALS") or None}


def _host(base: Any) -> str | None:
    """A base's scheme and host (Vertex paths start at ``/v1/projects/…``)."""
    if not isinstance(base, str) or not base:
        return None
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None
