"""Where and how one Bedrock deployment is called, worked out once at start-up.

``litellm_params.model`` forms: ``bedrock/<modelId>``, ``bedrock/converse/<modelId>``,
``bedrock/invoke/<modelId>`` (chat goes through Converse all the same), and
``bedrock/<region>/<modelId>``. ``<modelId>`` may be a cross-region inference profile
(``us.anthropic.claude-…``) or an ARN. The region is ``aws_region_name``, else the one
in the model string, else ``AWS_REGION`` / ``AWS_REGION_NAME`` / ``AWS_DEFAULT_REGION``,
else the profile's; the endpoint is ``aws_bedrock_runtime_endpoint``, else ``api_base``,
else ``AWS_BEDROCK_RUNTIME_ENDPOINT``, else ``https://bedrock-runtime.<region>.amazonaws.com``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from ..formats.bedrock_converse import KNOWN, NATIVE, model_family
from ..formats.bedrock_embeddings import embedding_kind
from ..params import CREDENTIAL_PARAMS, ROUTING_PARAMS
from ..routing.deployment import Deployment
from .base import DeploymentProblem

__all__ = ["Target", "build_target", "parse_model", "region_for", "endpoint_for", "host_header", "ignored_params", "truthy"]

log = logging.getLogger("gatehouse.providers.bedrock")

_REGION = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d+$")
#: litellm_params the Bedrock provider reads itself (never request fields).
AWS_PARAMS = frozenset({
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_region_name", "aws_profile_name",
    "aws_role_name", "aws_session_name", "aws_web_identity_token", "aws_sts_endpoint",
    "aws_bedrock_runtime_endpoint", "modify_params", "extra_headers", "api_version",
})


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"))


@dataclass(slots=True)
class Target:
    """One deployment's request pieces (URLs, region, family, flags), computed once."""

    name: str
    model_id: str
    family: str
    embedding: str | None
    region: str
    endpoint: str
    host: str
    """The ``Host`` header for ``endpoint`` (signed): lower-case, port only when not the scheme's default."""
    drop_params: bool
    modify_params: bool
    extra_headers: dict[str, str]
    ignored: frozenset[str]
    bearer: str | None = field(default=None, repr=False)
    timeouts: dict[tuple[float, bool], aiohttp.ClientTimeout] = field(default_factory=dict)
    urls: dict[str, tuple[str, URL]] = field(default_factory=dict)

    def url(self, action: str) -> tuple[str, URL]:
        """``{endpoint}/model/{model id, every reserved character escaped}/{action}``: the text that is
        signed, and the same URL for aiohttp (kept encoded: ``:`` stays ``%3A`` as signed)."""
        found = self.urls.get(action)
        if found is None:
            text = f"{self.endpoint}/model/{quote(self.model_id, safe='')}/{action}"
            found = self.urls[action] = (text, URL(text, encoded=True))
        return found

    def timeout(self, seconds: float, *, stream: bool, connect: float) -> aiohttp.ClientTimeout:
        found = self.timeouts.get((seconds, stream))
        if found is None:
            found = self.timeouts[(seconds, stream)] = (
                aiohttp.ClientTimeout(total=None, connect=connect, sock_read=seconds) if stream
                else aiohttp.ClientTimeout(total=seconds, connect=connect))
        return found


def parse_model(upstream: str) -> tuple[str, str | None]:
    """(model id, region embedded in the model string) from what follows ``bedrock/``."""
    model, region = upstream, None
    for route in ("converse/", "invoke/"):
        if model.startswith(route):
            model = model[len(route):]
            break
    head, slash, rest = model.partition("/")
    if slash and _REGION.match(head) and not model.startswith("arn:"):
        region, model = head, rest
    return model, region


def region_for(lp: Mapping[str, Any], embedded: str | None, env: Mapping[str, str], profile_region: str | None) -> str:
    for value in (lp.get("aws_region_name"), embedded, env.get("AWS_REGION"), env.get("AWS_REGION_NAME"),
                  env.get("AWS_DEFAULT_REGION"), profile_region):
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise DeploymentProblem("no AWS region: set aws_region_name, or AWS_REGION / AWS_DEFAULT_REGION",
                            "aws_region_name")


def endpoint_for(deployment: Deployment, region: str, env: Mapping[str, str]) -> str:
    lp = deployment.litellm_params
    endpoint = lp.get("aws_bedrock_runtime_endpoint") or deployment.api_base or env.get("AWS_BEDROCK_RUNTIME_ENDPOINT")
    if not endpoint:
        return f"https://bedrock-runtime.{region}.amazonaws.com"
    endpoint = str(endpoint).rstrip("/")
    if not endpoint.startswith(("http://", "https://")):
        raise DeploymentProblem(f"the Bedrock runtime endpoint must be an http(s) URL, not '{endpoint}'",
                                "aws_bedrock_runtime_endpoint")
    return endpoint


def host_header(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def ignored_params(deployment: Deployment) -> frozenset[str]:
    """Deployment params Bedrock has no use for: warned about once, never sent."""
    ignored = frozenset(k for k in deployment.params
                        if k not in KNOWN and k not in NATIVE and k not in AWS_PARAMS and k != "additionalModelRequestFields"
                        and k not in ROUTING_PARAMS and k not in CREDENTIAL_PARAMS)
    for key in sorted(ignored):
        log.warning("deployment '%s': litellm_params.%s is not used by the bedrock provider; ignored",
                    deployment.model_name, key)
    return ignored


def build_target(deployment: Deployment, *, global_env: Mapping[str, str] | None = None,
                 profile_region: str | None = None) -> Target:
    env = os.environ if global_env is None else global_env
    lp = deployment.litellm_params
    model_id, embedded = parse_model(deployment.upstream_model)
    if not model_id:
        raise DeploymentProblem("bedrock/ needs a model id, e.g. bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
                                "model")
    if deployment.upstream_model.startswith("invoke/") and embedding_kind(model_id) is None:
        log.warning("deployment '%s': bedrock/invoke/ chat is served through the Converse API",
                    deployment.model_name)
    region = region_for(lp, embedded, env, profile_region)
    endpoint = endpoint_for(deployment, region, env)
    headers = {str(k): str(v) for k, v in dict(lp.get("extra_headers") or {}).items()}
    return Target(
        name=deployment.model_name, model_id=model_id, family=model_family(model_id),
        embedding=embedding_kind(model_id), region=region, endpoint=endpoint, host=host_header(endpoint),
        drop_params=truthy(lp.get("drop_params")), modify_params=truthy(lp.get("modify_params")),
        extra_headers=headers, ignored=ignored_params(deployment),
    )
