"""The pass-through routes of one gateway: the provider routes and ``general_settings.pass_through_endpoints``.

Provider routes (always served; see :mod:`.targets` for their credentials)::

    /anthropic/*  /openai/*  /azure/*  /gemini/*  /vertex_ai/* (/vertex-ai/*)  /bedrock/*  /cohere/*

``general_settings.pass_through_endpoints`` entries (LiteLLM's fields)::

    - path: /bria                      # the route (required)
      target: https://engine.prod.bria-api.com   # where it goes (required, unless path is a provider route)
      headers: {api_token: os.environ/BRIA_KEY}  # added to every request ("bearer os.environ/X" is read too)
      forward_headers: false           # forward the client's headers (never its credentials)
      include_subpath: false           # also serve /bria/<anything> → target/<anything>
      auth: true                       # Gatehouse default; false serves anyone (warned at start-up)
      cost_per_request: 0.0            # USD added to the caller's spend per request
      guardrails: [name] | {name: {request_fields: [...]}}   # opt-in, pre_call / during_call / post_call
      methods: [POST]                  # default: every method
      timeout: 600                     # seconds

An entry whose ``path`` is a provider route (and that has no ``target``) sets
that route's ``guardrails``, ``cost_per_request`` and ``timeout``. A
``headers`` entry ``litellm_user_api_key: <header>`` names the header that
carries the Gatehouse key (never forwarded).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from ..config.errors import ConfigError
from ..formats.passthrough import parse_path
from .targets import KeyTarget, Target

__all__ = ["Route", "GuardSpec", "PROVIDER_PREFIXES", "custom_routes", "DEFAULT_TIMEOUT"]

log = logging.getLogger("gatehouse.passthrough")

DEFAULT_TIMEOUT = 600.0
#: Route prefix → provider (whose credentials and usage format the route uses).
PROVIDER_PREFIXES: Mapping[str, str] = {
    "/anthropic": "anthropic", "/openai": "openai", "/azure": "azure", "/gemini": "gemini",
    "/vertex_ai": "vertex_ai", "/vertex-ai": "vertex_ai", "/bedrock": "bedrock", "/cohere": "cohere",
}
_FIELDS = frozenset({"path", "target", "headers", "forward_headers", "include_subpath", "auth", "cost_per_request",
                     "guardrails", "methods", "timeout", "id"})
_ENV = re.compile(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class GuardSpec:
    """The guardrails a route opts in to, and where their texts are."""

    names: tuple[str, ...]
    request_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str
    target: Target
    provider: str | None = None
    subpath: bool = True
    forward_headers: bool = True
    auth: bool = True
    key_header: str | None = None
    guardrails: GuardSpec | None = None
    cost_per_request: float = 0.0
    methods: frozenset[str] | None = None
    timeout: float = DEFAULT_TIMEOUT
    deployment_id: str | None = field(default=None)
    """The ``use_in_pass_through`` deployment whose credential the route uses (its prices, for its own model)."""
    deployment_model: str | None = None


def custom_routes(entries: Any, *, guardrail_names: frozenset[str], source: str,
                  environ: Mapping[str, str] | None = None) -> tuple[list[Route], dict[str, dict[str, Any]]]:
    """(routes with their own target, settings for provider routes by prefix) from the config list."""
    env = os.environ if environ is None else environ
    if entries is None:
        return [], {}
    key = "general_settings.pass_through_endpoints"
    if not isinstance(entries, list):
        raise ConfigError("must be a list of {path, target, ...} entries", key=key, source=source)
    routes: list[Route] = []
    provider_settings: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        where = f"{key}[{i}]"
        if not isinstance(entry, Mapping):
            raise ConfigError("must be an object with path and target", key=where, source=source)
        unknown = sorted(set(entry) - _FIELDS)
        if unknown:
            log.warning("%s: %s.%s: not used by Gatehouse; ignored", source, where, unknown[0])
        path = _path(entry.get("path"), where, source)
        settings = _settings(entry, where, source, guardrail_names)
        if path in PROVIDER_PREFIXES and not entry.get("target"):
            provider_settings[path] = settings
            continue
        target = entry.get("target")
        if not isinstance(target, str) or not target.startswith(("http://", "https://")):
            raise ConfigError("must be an http(s) URL (a Python adapter target is not supported)",
                              key=f"{where}.target", source=source)
        headers, key_header = _headers(entry.get("headers"), f"{where}.headers", source, env)
        secrets = tuple(headers.values())
        subpath = _flag(entry, "include_subpath", False, where, source)
        routes.append(Route(prefix=path, target=KeyTarget(None, path, target, headers, secrets=secrets,
                                                          subpath=subpath),
                            subpath=subpath, forward_headers=_flag(entry, "forward_headers", False, where, source),
                            key_header=key_header, **settings))
        if not routes[-1].auth:
            log.warning("%s: %s: auth: false — %s is served to anyone, without a Gatehouse key", source, where, path)
    return routes, provider_settings


def with_settings(route: Route, settings: Mapping[str, Any] | None) -> Route:
    return replace(route, **settings) if settings else route


def _path(value: Any, where: str, source: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or len(value) < 2:
        raise ConfigError("must be a route starting with / (e.g. /bria)", key=f"{where}.path", source=source)
    return value.rstrip("/")


def _flag(entry: Mapping[str, Any], name: str, default: bool, where: str, source: str) -> bool:
    value = entry.get(name, default)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError("must be true or false", key=f"{where}.{name}", source=source)
    return value


def _settings(entry: Mapping[str, Any], where: str, source: str, names: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"auth": _flag(entry, "auth", True, where, source)}
    cost = entry.get("cost_per_request", 0.0)
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or cost < 0:
        raise ConfigError("must be a non-negative number of USD", key=f"{where}.cost_per_request", source=source)
    out["cost_per_request"] = float(cost)
    timeout = entry.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError("must be a number of seconds", key=f"{where}.timeout", source=source)
    out["timeout"] = float(timeout)
    methods = entry.get("methods")
    if methods:
        if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
            raise ConfigError("must be a list of HTTP methods", key=f"{where}.methods", source=source)
        out["methods"] = frozenset(m.upper() for m in methods)
    if entry.get("guardrails"):
        out["guardrails"] = _guardrails(entry["guardrails"], f"{where}.guardrails", source, names)
    return out


def _guardrails(value: Any, where: str, source: str, known: frozenset[str]) -> GuardSpec:
    """``[name, ...]`` or ``{name: {request_fields: [...]}}`` (LiteLLM's two forms)."""
    if isinstance(value, list):
        value = {str(name): None for name in value}
    if not isinstance(value, Mapping):
        raise ConfigError("must be a list of guardrail names or {name: {request_fields: [...]}}", key=where,
                          source=source)
    fields: list[str] = []
    for name, settings in value.items():
        if name not in known:
            raise ConfigError(f"unknown guardrail '{name}' (configured: {', '.join(sorted(known)) or 'none'})",
                              key=where, source=source)
        settings = settings or {}
        if not isinstance(settings, Mapping):
            raise ConfigError("must be an object like {request_fields: [...]}", key=f"{where}.{name}", source=source)
        for path in settings.get("request_fields") or []:
            try:
                parse_path(str(path))
            except ValueError as exc:
                raise ConfigError(str(exc), key=f"{where}.{name}.request_fields", source=source) from None
            fields.append(str(path))
        if settings.get("response_fields"):
            log.warning("%s: %s.%s.response_fields: not implemented by Gatehouse: answers are checked at every "
                        "text field (content, text, parts[].text, ...)", source, where, name)
    return GuardSpec(tuple(value), tuple(fields))


def _headers(value: Any, where: str, source: str, env: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """The route's own headers (``os.environ/X`` read anywhere in a value) and its key header."""
    if value is None:
        return {}, None
    if not isinstance(value, Mapping):
        raise ConfigError("must be an object of header names and values", key=where, source=source)
    out: dict[str, str] = {}
    key_header = None
    for name, raw in value.items():
        if raw is None:  # an os.environ/ value that is not set (the loader warned, naming it)
            continue
        text = str(raw)
        for variable in _ENV.findall(text):
            if not env.get(variable):
                raise ConfigError(f"os.environ/{variable}: the variable is not set", key=f"{where}.{name}",
                                  source=source)
            text = text.replace(f"os.environ/{variable}", env[variable])
        if str(name).lower() == "litellm_user_api_key":
            key_header = text
            continue
        out[str(name)] = text
    return out, key_header


def entries_of(general_settings: Mapping[str, Any]) -> Sequence[Any] | None:
    found = general_settings.get("pass_through_endpoints")
    return found if found is not None else None
