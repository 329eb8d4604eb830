"""Response caching (``litellm_settings.cache``): LiteLLM's switches, in the call layer.

The cache sits below the policy pipeline, where LiteLLM has it: it is looked
up after the pre-call stage (request guardrails and hooks always run, and
the key is computed on the request they let through) and it stores the
provider's answer before the post-call stage (so hooks run once on every
answer, cached or not). Streams are never cached.

Entries are scoped: by default each virtual key sees only the answers its own
requests stored (``cache_params.scope: key``); ``team`` shares them within a
team (keys without a team keep their own), ``global`` between every caller,
as LiteLLM does. The scope is part of the entry's hashed key.

Per request, the body's ``cache`` object controls it as in LiteLLM:
``{"no-cache": true}`` skips the look-up, ``{"no-store": true}`` skips
storing, ``{"ttl": seconds}`` sets this entry's lifetime (at most
``cache_params.max_ttl``, by default the configured ``ttl``) and
``{"s-maxage": seconds}`` accepts only entries younger than that.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson

from .config.errors import ConfigError
from .params import CACHE_NEUTRAL

__all__ = ["ResponseCache", "CacheSettings"]

#: LiteLLM's call-type names in ``cache_params.supported_call_types``, and the seed's.
_CALL_TYPES = {
    "acompletion": "completion", "completion": "completion",
    "atext_completion": "text_completion", "text_completion": "text_completion",
    "aembedding": "embeddings", "embedding": "embeddings", "embeddings": "embeddings",
    "aimage_generation": "image_generation", "image_generation": "image_generation",
    "amoderation": "moderation", "moderation": "moderation",
    "atranscription": "audio_transcription", "transcription": "audio_transcription",
    "audio_transcription": "audio_transcription",
}
DEFAULT_CALL_TYPES = frozenset({"completion", "text_completion", "embeddings"})


SCOPES = ("key", "team", "global")


@dataclass(frozen=True)
class CacheSettings:
    enabled: bool = False
    ttl: float = 600.0
    call_types: frozenset[str] = DEFAULT_CALL_TYPES
    namespace: str = "gatehouse:cache"
    scope: str = "key"
    """Who shares entries: ``key`` (default), ``team`` or ``global``."""
    max_ttl: float = 600.0
    """The longest lifetime a request's ``cache.ttl`` may ask for."""

    @classmethod
    def from_config(cls, litellm_settings: dict[str, Any], *, source: str) -> "CacheSettings":
        enabled = litellm_settings.get("cache")
        if enabled is None or enabled is False:
            return cls()
        if enabled is not True:
            raise ConfigError("must be true or false", key="litellm_settings.cache", source=source)
        params = litellm_settings.get("cache_params") or {}
        if not isinstance(params, dict):
            raise ConfigError("must be a mapping", key="litellm_settings.cache_params", source=source)
        ttl = _ttl(params.get("ttl", 600), source)
        scope = params.get("scope", "key")
        if scope not in SCOPES:
            raise ConfigError(f"must be one of {', '.join(SCOPES)}, not {scope!r}",
                              key="litellm_settings.cache_params.scope", source=source)
        return cls(enabled=True, ttl=ttl, call_types=_call_types(params.get("supported_call_types"), source),
                   namespace=str(params.get("namespace") or "gatehouse:cache"), scope=scope,
                   max_ttl=max(ttl, _ttl(params.get("max_ttl", ttl), source, "max_ttl")))


def _ttl(value: Any, source: str, name: str = "ttl") -> float:
    key = f"litellm_settings.cache_params.{name}"
    try:
        ttl = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"must be a number of seconds, not {value!r}", key=key, source=source) from None
    if ttl <= 0 or isinstance(value, bool):
        raise ConfigError("must be more than 0 seconds", key=key, source=source)
    return ttl


def _call_types(value: Any, source: str) -> frozenset[str]:
    if value is None:
        return DEFAULT_CALL_TYPES
    key = "litellm_settings.cache_params.supported_call_types"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("must be a list of call types", key=key, source=source)
    unknown = [v for v in value if v not in _CALL_TYPES]
    if unknown:
        raise ConfigError(f"unknown call type(s) {', '.join(unknown)}; known: {', '.join(sorted(_CALL_TYPES))}",
                          key=key, source=source)
    return frozenset(_CALL_TYPES[v] for v in value)


class ResponseCache:
    """Answers kept in the gateway's :class:`DualCache` (Redis when configured, else memory)."""

    def __init__(self, settings: CacheSettings, cache: Any) -> None:
        self.settings = settings
        self.cache = cache

    def scope_of(self, auth: Any) -> str:
        """Who may read the entries this caller stores (``cache_params.scope``)."""
        scope = self.settings.scope
        if scope == "global" or auth is None:
            return ""
        if scope == "team" and getattr(auth, "team_id", None):
            return f"team:{auth.team_id}"
        return f"key:{getattr(auth, 'token', None) or getattr(auth, 'api_key', None) or ''}"

    def key(self, call_type: str, data: dict[str, Any], scope: str = "") -> str | None:
        """The entry's key, or ``None`` when this request is not cached."""
        if not self.settings.enabled or call_type not in self.settings.call_types:
            return None
        relevant = {k: v for k, v in data.items() if k not in CACHE_NEUTRAL}
        try:
            raw = orjson.dumps([scope, call_type, relevant], option=orjson.OPT_SORT_KEYS)
        except TypeError:  # a value JSON cannot hold (an uploaded file): not cached
            return None
        return f"{self.settings.namespace}:{hashlib.sha256(raw).hexdigest()}"

    async def get(self, key: str, controls: dict[str, Any]) -> dict[str, Any] | None:
        if controls.get("no-cache") is True:
            return None
        entry = await self.cache.async_get_cache(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("response"), dict):
            return None
        max_age = controls.get("s-maxage")
        if isinstance(max_age, (int, float)) and time.time() - float(entry.get("at", 0)) > max_age:
            return None
        return entry["response"]

    async def put(self, key: str, response: dict[str, Any], controls: dict[str, Any]) -> bool:
        if controls.get("no-store") is True:
            return False
        asked = controls.get("ttl")
        ttl = self.settings.ttl
        if isinstance(asked, (int, float)) and not isinstance(asked, bool) and asked > 0:
            ttl = min(float(asked), self.settings.max_ttl)
        await self.cache.async_set_cache(key, {"at": time.time(), "response": response}, ttl=ttl)
        return True
