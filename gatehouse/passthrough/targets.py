"""Where a pass-through request goes and with which credential: one :class:`Target` per route, built at start-up.

The credential always comes from the gateway's configuration, never from the
client (whose key is the Gatehouse key). Per provider route, as LiteLLM finds it:
the first ``model_list`` deployment of that provider with
``litellm_params.use_in_pass_through: true`` (its ``api_key``, ``api_base``,
AWS or Google settings), else the environment:

    route        base (default)                                   credential
    /anthropic   ANTHROPIC_API_BASE (https://api.anthropic.com)   x-api-key: ANTHROPIC_API_KEY
    /openai      OPENAI_API_BASE (https://api.openai.com/v1)      Authorization: Bearer OPENAI_API_KEY
    /azure       AZURE_API_BASE (required)                        api-key: AZURE_API_KEY
    /gemini      GEMINI_API_BASE (generativelanguage.googleapis)  x-goog-api-key: GEMINI_API_KEY (GOOGLE_API_KEY)
    /cohere      COHERE_API_BASE (https://api.cohere.com)         Authorization: Bearer COHERE_API_KEY
    /vertex_ai   {location}-aiplatform.googleapis.com             a Google token for the deployment whose
                                                                  vertex_project/location match the path, else
                                                                  default_vertex_config / DEFAULT_VERTEXAI_*
    /bedrock     bedrock-runtime.{region}.amazonaws.com (agent    SigV4 (re-signed) with the deployment's or the
                 routes: bedrock-agent-runtime)                   environment's AWS credentials, or a Bedrock
                                                                  API key (AWS_BEARER_TOKEN_BEDROCK)

A route whose provider has no credential is still served: it answers 404
naming what to configure. A base that already ends with the version segment
the path starts with (``…/v1`` + ``/v1/messages``) is not doubled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..errors import NotFoundError
from ..providers.credentials import from_env

__all__ = ["Outbound", "Target", "KeyTarget", "Unconfigured", "join", "key_target"]

_VERSION = re.compile(r"^v\d+[a-z0-9]*$")


@dataclass(slots=True)
class Outbound:
    """One request to send: the URL exactly as signed/sent (already encoded), headers, secrets to scrub."""

    url: str
    headers: dict[str, str]
    secrets: tuple[str | None, ...] = ()


class Target(Protocol):
    """Builds the upstream request of one route (adds the credential; signs when the provider wants it)."""

    provider: str | None
    label: str
    """What the route calls, for logs and errors (never a credential)."""

    async def outbound(self, method: str, tail: str, query: str, headers: dict[str, str], body: bytes) -> Outbound: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def join(base: str, tail: str) -> str:
    """``base`` + ``tail`` (both encoded), without doubling a version segment they share (``/v1``)."""
    base = base.rstrip("/")
    if not tail:
        return base
    if not tail.startswith("/"):
        tail = "/" + tail
    last = base.rsplit("/", 1)[-1]
    first = tail[1:].split("/", 1)[0]
    if _VERSION.match(last) and last == first and "//" in base and base.count("/") > 2:
        base = base[: -len(last) - 1]
    return base + tail


def with_query(url: str, query: str, add: Mapping[str, str] | None = None, drop: frozenset[str] = frozenset()) -> str:
    """``url`` with the client's query (less ``drop``), the target's own query and ``add`` merged in."""
    parts = urlsplit(url)
    if not add and not drop:  # the client's query as it was written
        return url + (("&" if parts.query else "?") + query if query else "")
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    pairs += [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in drop]
    if add:
        pairs = [(k, v) for k, v in pairs if k not in add] + list(add.items())
    if not pairs:
        return url.split("?", 1)[0]
    return url.split("?", 1)[0] + "?" + urlencode(pairs)


@dataclass(slots=True)
class KeyTarget:
    """A base URL plus credential headers and/or query parameters (every provider but Vertex and Bedrock)."""

    provider: str | None
    label: str
    base: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    query: dict[str, str] = field(default_factory=dict, repr=False)
    drop_query: frozenset[str] = frozenset()
    """Client query parameters never forwarded (``key`` on /gemini: the client's own Gatehouse key)."""
    secrets: tuple[str | None, ...] = field(default=(), repr=False)
    subpath: bool = True
    """Append the request's path below the route (``include_subpath``; provider routes always do)."""

    async def outbound(self, method: str, tail: str, query: str, headers: dict[str, str], body: bytes) -> Outbound:
        url = join(self.base, tail) if self.subpath else self.base
        return Outbound(with_query(url, query, self.query, self.drop_query), {**headers, **self.headers},
                        self.secrets)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


@dataclass(slots=True)
class Unconfigured:
    """A provider route without a credential: every request is a 404 naming what to set."""

    provider: str | None
    label: str
    hint: str

    async def outbound(self, method: str, tail: str, query: str, headers: dict[str, str], body: bytes) -> Outbound:
        raise NotFoundError(f"The pass-through route {self.label} is not configured: {self.hint}")

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


#: provider → (default base, key variables, base variables, how the key is sent)
_KEYED: Mapping[str, tuple[str | None, tuple[str, ...], tuple[str, ...], str]] = {
    "anthropic": ("https://api.anthropic.com", ("ANTHROPIC_API_KEY",), ("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"),
                  "x-api-key"),
    "openai": ("https://api.openai.com/v1", ("OPENAI_API_KEY",), ("OPENAI_API_BASE", "OPENAI_BASE_URL"), "bearer"),
    "azure": (None, ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"), ("AZURE_API_BASE",), "api-key"),
    "gemini": ("https://generativelanguage.googleapis.com", ("GEMINI_API_KEY", "GOOGLE_API_KEY"), ("GEMINI_API_BASE",),
               "x-goog-api-key"),
    "cohere": ("https://api.cohere.com", ("COHERE_API_KEY", "CO_API_KEY"), ("COHERE_API_BASE",), "bearer"),
}


def key_target(provider: str, prefix: str, deployment: Any | None, environ: Mapping[str, str]) -> KeyTarget | Unconfigured:
    """The target of a key-authenticated provider route: the deployment's credential, else the environment's."""
    default, key_env, base_env, style = _KEYED[provider]
    if deployment is not None:
        key, base = deployment.api_key or from_env(key_env, environ), deployment.api_base or default
    else:
        key, base = from_env(key_env, environ), from_env(base_env, environ) or default
    if not key or not base:
        what = "a key" if not key else "a base URL"
        return Unconfigured(provider, prefix, f"it has no {what}: add a {provider}/ deployment with "
                            f"use_in_pass_through: true, or set {' / '.join(key_env if not key else base_env)}")
    headers = {"Authorization": f"Bearer {key}"} if style == "bearer" else {style: key}
    drop = frozenset({"key"}) if provider == "gemini" else frozenset()  # a ?key= the client sent is its Gatehouse key
    return KeyTarget(provider, prefix, base, headers, {}, drop, (key,))
