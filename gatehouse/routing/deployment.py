"""What the router is given: deployments and router settings, parsed from config.

``model_list`` entries become :class:`Deployment` values (one upstream target
each; entries sharing a ``model_name`` form a model group), and
``router_settings`` / ``litellm_settings`` become one :class:`RouterSettings`.
Both are parsed once, at start-up; a wrong type or a missing key raises
:class:`~gatehouse.config.errors.ConfigError` naming the key, e.g.
``model_list[3].litellm_params.model``. Values arrive with ``os.environ/``
references already resolved, so numbers and booleans may arrive as strings
("30", "true") and are accepted.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import orjson

from ..config.errors import ConfigError
from ..params import CREDENTIAL_PARAMS, ROUTING_PARAMS

__all__ = ["Deployment", "deployments_from_config", "RouterSettings", "STRATEGIES"]

log = logging.getLogger("gatehouse.routing")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


#: Strategy names accepted in ``router_settings.routing_strategy``, and what each runs as.
STRATEGIES: Mapping[str, str] = MappingProxyType({
    "simple-shuffle": "simple-shuffle",
    "least-busy": "least-busy",
    "usage-based-routing": "simple-shuffle",
    "usage-based-routing-v2": "simple-shuffle",
    "latency-based-routing": "simple-shuffle",
    "cost-based-routing": "simple-shuffle",
})


class _Reader:
    """Typed reads from one config mapping; every error names the full key."""

    def __init__(self, data: Mapping[str, Any], prefix: str, source: str) -> None:
        self.data = data
        self.prefix = prefix
        self.source = source

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(problem, key=f"{self.prefix}{key}", source=self.source)

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(key, f"must be a string, not {type(value).__name__}")
        text = str(value).strip()
        if required and not text:
            raise self.fail(key, "must not be empty")
        return text or None

    def number(self, key: str, *, integer: bool = False, minimum: float = 0.0) -> Any:
        value = self.data.get(key)
        if value is None:
            return None
        kind = "an integer" if integer else "a number"
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise self.fail(key, f"must be {kind}, not '{value}'") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be {kind}, not {type(value).__name__}")
        if integer and value != int(value):
            raise self.fail(key, f"must be {kind}, not {value}")
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum:g}, not {value:g}")
        return int(value) if integer else float(value)

    def flag(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        raise self.fail(key, f"must be true or false, not '{value}'")

    def str_list(self, key: str) -> tuple[str, ...] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        if value is None:
            return _EMPTY
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a mapping, not {type(value).__name__}")
        return value


@dataclass(frozen=True, slots=True, eq=False)
class Deployment:
    """One upstream target of a model group. Compared and hashed by identity.

    ``params`` are the ``litellm_params`` merged into the upstream body
    (temperature, max_tokens, api_version, organization, extra_headers, ...);
    the routing keys, ``api_key`` and other credentials are never in it.
    """

    id: str
    model_name: str
    provider: str
    upstream_model: str
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float | None = None
    stream_timeout: float | None = None
    tags: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    weight: float | None = None
    input_cost_per_token: float = 0.0
    """USD per prompt token (``litellm_params`` or ``model_info``, as LiteLLM reads it); 0 = not priced."""
    output_cost_per_token: float = 0.0
    params: Mapping[str, Any] = field(default_factory=_empty, repr=False)
    model_info: Mapping[str, Any] = field(default_factory=_empty, repr=False)
    litellm_params: Mapping[str, Any] = field(default_factory=_empty, repr=False)
    """Every ``litellm_params`` key as configured (credentials included): what a provider
    reads for itself (``aws_region_name``, ``vertex_project``, ``azure_ad_token``, ...)."""


def deployments_from_config(model_list: list[dict[str, Any]] | None, *, source: str,
                            drop_params: bool = False) -> list[Deployment]:
    """Parse ``model_list``; raise ConfigError naming the key on any problem.

    Ids come from ``model_info.id`` when given (duplicates are an error), else
    a stable hash of the entry; identical entries get ``-2``, ``-3`` ... suffixes.
    ``drop_params`` (``litellm_settings.drop_params``) is the default of each
    deployment's ``litellm_params.drop_params``.
    """
    if model_list is None:
        return []
    if not isinstance(model_list, list):
        raise ConfigError(f"must be a list, not {type(model_list).__name__}", key="model_list", source=source)
    deployments: list[Deployment] = []
    seen: set[str] = set()
    for index, entry in enumerate(model_list):
        deployment, explicit = _deployment(entry, f"model_list[{index}]", source, drop_params)
        if deployment.id in seen:
            if explicit:
                key = f"model_list[{index}].model_info.id"
                raise ConfigError(f"duplicate id '{deployment.id}'", key=key, source=source)
            deployment = _with_id(deployment, _unique(deployment.id, seen))
        seen.add(deployment.id)
        deployments.append(deployment)
    return deployments


def _deployment(entry: Any, key: str, source: str, drop_params: bool = False) -> tuple[Deployment, bool]:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"must be a mapping, not {type(entry).__name__}", key=key, source=source)
    top = _Reader(entry, f"{key}.", source)
    name = top.text("model_name", required=True)
    if "litellm_params" not in entry:
        raise top.fail("litellm_params", "is required")
    raw = top.mapping("litellm_params")
    info = top.mapping("model_info")
    lp = _Reader(raw, f"{key}.litellm_params.", source)
    provider, upstream = _split_model(lp)
    given_id = _Reader(info, f"{key}.model_info.", source).text("id")
    deployment = Deployment(
        id=given_id or _entry_hash(name or "", raw),
        model_name=name or "",
        provider=provider,
        upstream_model=upstream,
        api_base=lp.text("api_base") or lp.text("base_url"),
        api_key=lp.text("api_key"),
        timeout=lp.number("timeout", minimum=0.001),
        stream_timeout=lp.number("stream_timeout", minimum=0.001),
        tags=lp.str_list("tags") or (),
        rpm=lp.number("rpm", integer=True),
        tpm=lp.number("tpm", integer=True),
        weight=lp.number("weight"),
        input_cost_per_token=_price(lp, info, "input_cost_per_token", key, source),
        output_cost_per_token=_price(lp, info, "output_cost_per_token", key, source),
        params=MappingProxyType(_upstream_params(raw)),
        model_info=MappingProxyType(dict(info)),
        litellm_params=MappingProxyType({"drop_params": True, **raw} if drop_params else dict(raw)),
    )
    return deployment, given_id is not None


def _price(lp: _Reader, info: Mapping[str, Any], name: str, key: str, source: str) -> float:
    """A per-token price from ``litellm_params``, else ``model_info``; 0 when neither sets it."""
    value = lp.number(name)
    if value is None:
        value = _Reader(info, f"{key}.model_info.", source).number(name)
    return float(value or 0.0)


def _split_model(lp: _Reader) -> tuple[str, str]:
    """``provider/upstream`` (no "/" → openai, ``claude-…`` → anthropic), or ``custom_llm_provider`` + model."""
    model = lp.text("model", required=True) or ""
    custom = lp.text("custom_llm_provider")
    if custom:
        return custom, model
    provider, slash, upstream = model.partition("/")
    if not slash:
        return ("anthropic" if model.startswith("claude-") else "openai"), model
    if not provider or not upstream:
        raise lp.fail("model", f"'{model}' must look like '<provider>/<model>'")
    return provider, upstream


def _upstream_params(raw: Mapping[str, Any]) -> dict[str, Any]:
    params = {}
    for key, value in raw.items():
        lowered = str(key).lower()
        if key in ROUTING_PARAMS or key in CREDENTIAL_PARAMS or "secret" in lowered or "password" in lowered:
            continue
        params[str(key)] = value
    return params


def _entry_hash(model_name: str, litellm_params: Mapping[str, Any]) -> str:
    blob = orjson.dumps([model_name, dict(litellm_params)], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(blob).hexdigest()[:32]


def _unique(base: str, seen: set[str]) -> str:
    n = 2
    while f"{base}-{n}" in seen:
        n += 1
    return f"{base}-{n}"


def _with_id(deployment: Deployment, new_id: str) -> Deployment:
    values = {name: getattr(deployment, name) for name in Deployment.__dataclass_fields__}
    values["id"] = new_id
    return Deployment(**values)


@dataclass(frozen=True, slots=True)
class RouterSettings:
    """How the router picks, retries, falls back and cools down (see docs/routing.md).

    ``fallbacks`` and the two specific fallback maps are ``{group: (fallback
    groups, in order)}``; the key ``"*"`` applies to any group without an entry.
    """

    routing_strategy: str = "simple-shuffle"
    num_retries: int = 2
    retry_after: float = 0.0
    backoff_base: float = 0.05
    backoff_max: float = 2.0
    retry_after_cap: float = 10.0
    timeout: float = 600.0
    stream_timeout: float | None = None
    allowed_fails: int = 3
    failure_window: float = 60.0
    cooldown_time: float = 5.0
    disable_cooldowns: bool = False
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    context_window_fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    content_policy_fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    enable_tag_filtering: bool = False
    tag_filtering_match_any: bool = True
    retry_budget_ratio: float = 0.2
    """Retries (and fallback attempts) in flight a deployment's failures may cause, per request in flight on it."""
    retry_budget_min_concurrent: int = 3
    """Retries in flight always allowed per deployment, whatever its traffic."""

    @classmethod
    def from_config(
        cls, router_settings: Mapping[str, Any] | None, litellm_settings: Mapping[str, Any] | None, *, source: str
    ) -> RouterSettings:
        """Validate and merge: ``router_settings`` wins over ``litellm_settings``, then defaults."""
        rs = _Reader(router_settings or _EMPTY, "router_settings.", source)
        ls = _Reader(litellm_settings or _EMPTY, "litellm_settings.", source)
        values: dict[str, Any] = {
            "routing_strategy": _strategy(rs),
            "num_retries": _first(rs.number("num_retries", integer=True), ls.number("num_retries", integer=True)),
            "retry_after": rs.number("retry_after"),
            "backoff_base": rs.number("backoff_base"),
            "timeout": _first(rs.number("timeout", minimum=0.001), ls.number("request_timeout", minimum=0.001)),
            "stream_timeout": rs.number("stream_timeout", minimum=0.001),
            "allowed_fails": rs.number("allowed_fails", integer=True),
            "cooldown_time": rs.number("cooldown_time"),
            "disable_cooldowns": rs.flag("disable_cooldowns"),
            "enable_tag_filtering": rs.flag("enable_tag_filtering"),
            "tag_filtering_match_any": rs.flag("tag_filtering_match_any"),
            "retry_budget_ratio": rs.number("retry_budget_ratio"),
            "retry_budget_min_concurrent": rs.number("retry_budget_min_concurrent", integer=True),
        }
        for name in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
            values[name] = _fallbacks(rs, name) if rs.data.get(name) is not None else _fallbacks(ls, name)
        return cls(**{k: v for k, v in values.items() if v is not None})


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _strategy(rs: _Reader) -> str | None:
    name = rs.text("routing_strategy")
    if name is None:
        return None
    if name not in STRATEGIES:
        raise rs.fail("routing_strategy", f"unknown strategy '{name}'; use one of: {', '.join(STRATEGIES)}")
    if STRATEGIES[name] != name:
        log.warning(
            "%s: router_settings.routing_strategy: '%s' is not implemented by Gatehouse; using '%s'",
            rs.source, name, STRATEGIES[name],
        )
    return STRATEGIES[name]


def _fallbacks(reader: _Reader, key: str) -> Mapping[str, tuple[str, ...]] | None:
    """LiteLLM's ``[{group: [fallback, ...]}, ...]``; the first entry for a group wins."""
    value = reader.data.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise reader.fail(key, "must be a list of {model_group: [fallback model groups]}")
    result: dict[str, tuple[str, ...]] = {}
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise reader.fail(f"{key}[{i}]", "must be a mapping {model_group: [fallback model groups]}")
        for group, targets in item.items():
            if isinstance(targets, str):
                targets = [targets]
            if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
                raise reader.fail(f"{key}[{i}].{group}", "must be a list of model group names")
            result.setdefault(str(group), tuple(targets))
    return MappingProxyType(result)
