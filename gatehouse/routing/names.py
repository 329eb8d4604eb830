"""Model names as clients write them: aliases, exact model groups, wildcard groups.

:meth:`ModelNames.resolve` turns the ``model`` a client sent into the model
group that serves it, in LiteLLM's order::

    1. router_settings.model_group_alias     one level: the alias is replaced by its target
    2. an exact model_name                   (a group without "*")
    3. a wildcard model_name                 "*", "openai/*", "claude-*", "team-*-mini", ...
                                             most specific first (longest pattern, then most "*"),
                                             the name as sent, then "<inferred provider>/<name>"
    nothing matched                          None (the caller answers 400)

A wildcard's ``*`` matches any text (the whole name must match); the
captured text replaces the ``*`` of the deployment's ``litellm_params.model``
(``model_name: "claude-*"`` + ``model: anthropic/claude-*`` serves
``claude-sonnet-4-5`` as ``claude-sonnet-4-5``; ``model_name: "*"`` +
``model: openai/*`` passes any name through). The answer always names the
model the client sent.

Aliases come as ``{alias: target}`` or ``{alias: {model: target, hidden: true}}``;
a hidden alias routes but is not listed by ``/v1/models``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..config.errors import ConfigError

__all__ = ["Alias", "Resolved", "ModelNames", "aliases_from_config", "concrete_model", "is_wildcard"]

#: Where a name without a provider prefix most likely belongs (for ``<provider>/*`` groups).
_PROVIDER_HINTS = (
    ("claude", "anthropic"), ("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
    ("chatgpt-", "openai"), ("text-embedding-", "openai"), ("dall-e", "openai"), ("whisper", "openai"),
    ("tts-", "openai"), ("omni-moderation", "openai"), ("gemini", "gemini"), ("command", "cohere"),
)


@dataclass(frozen=True, slots=True)
class Alias:
    target: str
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class Resolved:
    """The model group that serves a name, and what a wildcard captured of it."""

    group: str
    captured: tuple[str, ...] = ()
    wildcard: bool = False


def is_wildcard(name: str) -> bool:
    return "*" in name


def concrete_model(upstream_model: str, captured: Sequence[str], provider: str) -> str:
    """A wildcard deployment's upstream model for one request: each ``*`` replaced by a captured segment
    (a leading ``<provider>/`` of the result dropped: the deployment already names its provider)."""
    if "*" not in upstream_model:
        return upstream_model
    parts = upstream_model.split("*")
    out = parts[0]
    for i, part in enumerate(parts[1:]):
        out += (captured[i] if i < len(captured) else "") + part
    prefix = f"{provider}/"
    return out[len(prefix):] if out.startswith(prefix) and len(out) > len(prefix) else out


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile("(.*)".join(re.escape(part) for part in name.split("*")), re.DOTALL)


def _infer_provider(name: str) -> str | None:
    lowered = name.lower()
    return next((provider for prefix, provider in _PROVIDER_HINTS if lowered.startswith(prefix)), None)


class ModelNames:
    """The names one gateway serves (module docstring)."""

    def __init__(self, groups: Sequence[str], aliases: Mapping[str, Alias] | None = None) -> None:
        self.aliases: dict[str, Alias] = dict(aliases or {})
        self._exact = frozenset(g for g in groups if not is_wildcard(g))
        wild = [g for g in groups if is_wildcard(g)]
        wild.sort(key=lambda g: (len(_pattern(g).pattern), g.count("*")), reverse=True)
        self._patterns = [(_pattern(g), g) for g in wild]
        self._groups = tuple(groups)

    @property
    def has_wildcards(self) -> bool:
        return bool(self._patterns)

    def resolve(self, name: str) -> Resolved | None:
        """The group serving ``name`` (alias, exact, wildcard), or ``None``."""
        alias = self.aliases.get(name)
        if alias is not None:
            name = alias.target
        if name in self._exact:
            return Resolved(name)
        if not self._patterns:
            return None
        found = self._match(name)
        if found is None:
            provider = _infer_provider(name)
            if provider is not None and not name.startswith(provider + "/"):
                found = self._match(f"{provider}/{name}")
        return found

    def _match(self, name: str) -> Resolved | None:
        for pattern, group in self._patterns:
            matched = pattern.fullmatch(name)
            if matched is not None:
                return Resolved(group, matched.groups(), wildcard=True)
        return None

    def group_of(self, name: str | None) -> str | None:
        """The model group ``name`` resolves to (an alias's target, a wildcard's pattern), if any."""
        found = self.resolve(name) if isinstance(name, str) else None
        return found.group if found is not None else None

    def listed(self) -> list[str]:
        """What ``/v1/models`` lists: exact groups in config order, then visible aliases (no patterns)."""
        names = [g for g in self._groups if not is_wildcard(g)]
        names += [a for a, alias in self.aliases.items() if not alias.hidden and a not in self._exact]
        return names

    def patterns(self) -> list[str]:
        """The wildcard groups (``/v1/models?return_wildcard_routes=true``)."""
        return [g for _, g in self._patterns]


def aliases_from_config(value: Any, groups: Sequence[str], *, source: str) -> dict[str, Alias]:
    """``router_settings.model_group_alias``; a target no group serves stops start-up naming it."""
    key = "router_settings.model_group_alias"
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError("must be a mapping of alias → model group (or {model, hidden})", key=key, source=source)
    names = ModelNames(groups)
    out: dict[str, Alias] = {}
    for alias, spec in value.items():
        where = f"{key}.{alias}"
        if isinstance(spec, str):
            target, hidden = spec, False
        elif isinstance(spec, Mapping) and isinstance(spec.get("model"), str):
            target, hidden = spec["model"], _flag(spec.get("hidden"), where, source)
        else:
            raise ConfigError("must be a model group name, or {model: <group>, hidden: true|false}", key=where,
                              source=source)
        if names.resolve(target) is None:
            raise ConfigError(f"names model group '{target}', which no model_list entry serves", key=where,
                              source=source)
        out[str(alias)] = Alias(target, hidden)
    return out


def _flag(value: Any, key: str, source: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError("hidden must be true or false", key=key + ".hidden", source=source)
