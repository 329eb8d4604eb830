"""The typed view of a loaded configuration (:class:`GatewayConfig`).

Sections that other packages own are kept as validated mappings and parsed
there (``model_list`` and ``router_settings`` by :mod:`gatehouse.routing`,
``guardrails`` by :mod:`gatehouse.guardrails`); the settings the gateway itself
reads are typed here.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .environment import from_config_or_env, origins
from .errors import ConfigError
from .include import apply_default_params, for_environment, read_with_includes
from .known import check_known
from .load import apply_environment_variables, resolve_environment

__all__ = ["GatewayConfig", "load_config", "config_from_mapping", "RedisSettings"]

log = logging.getLogger("gatehouse.config")

T = TypeVar("T")

TOP_LEVEL_KEYS = {
    "model_list", "litellm_settings", "general_settings", "router_settings", "guardrails",
    "environment_variables", "callback_settings", "include", "default_vertex_config",
}
#: Keys read (or harmless to ignore: they tune LiteLLM internals that Gatehouse does not have).
LITELLM_SETTINGS_KEYS = {
    "callbacks", "post_call_rules", "num_retries", "request_timeout", "guardrails", "drop_params",
    "set_verbose", "json_logs", "success_callback", "failure_callback", "cache", "cache_params",
    "post_call_rules_streaming", "modify_params", "telemetry",
    "fallbacks", "context_window_fallbacks", "content_policy_fallbacks",
}
GENERAL_SETTINGS_KEYS = {
    "master_key", "database_url", "enforce_user_param", "max_request_size_mb", "hook_timeout",
    "include_call_id_in_error_body", "data_dir", "moderation_model", "key_cache_ttl",
    "database_connection_pool_limit", "store_model_in_db", "disable_spend_logs", "proxy_batch_write_at",
    "custom_auth", "custom_auth_run_common_checks", "enable_jwt_auth", "litellm_jwtauth",
    "pass_through_endpoints",
    "maximum_spend_logs_retention_period", "maximum_spend_logs_retention_interval", "store_prompts_in_spend_logs",
    "disable_admin_ui", "ui_request_log_size", "ui_request_log_content", "ui_request_log_always",  # ui/settings.py
    # resource limits, read by gatehouse.limits
    "request_body_timeout", "max_multipart_parts", "max_form_field_bytes", "max_response_size_mb",
    "database_connection_timeout", "database_query_timeout",
}
ROUTER_SETTINGS_KEYS = {
    "routing_strategy", "enable_tag_filtering", "tag_filtering_match_any", "num_retries", "fallbacks",
    "context_window_fallbacks", "content_policy_fallbacks", "timeout", "retry_after", "allowed_fails",
    "cooldown_time", "redis_host", "redis_port", "redis_password", "redis_url", "backoff_base",
    "model_group_alias", "default_litellm_params", "stream_timeout", "disable_cooldowns", "backoff_max",
    "retry_budget_ratio", "retry_budget_min_concurrent",  # Gatehouse: the retry budget (gatehouse.routing)
}


@dataclass(frozen=True)
class RedisSettings:
    url: str | None = None
    host: str | None = None
    port: int | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def configured(self) -> bool:
        return bool(self.url or self.host)


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the composition root needs, validated."""

    source: str
    base_dir: Path
    model_list: list[dict[str, Any]]
    litellm_settings: dict[str, Any]
    general_settings: dict[str, Any]
    router_settings: dict[str, Any]
    guardrails: list[dict[str, Any]]
    """The top-level ``guardrails:`` list."""
    settings_guardrails: list[dict[str, Any]]
    """``litellm_settings.guardrails`` (the seed's place for the same entries)."""
    callbacks: list[str]
    success_callbacks: list[str]
    """``litellm_settings.success_callback``: functions (``module.fn``) called after each success."""
    failure_callbacks: list[str]
    post_call_rules: list[str]
    master_key: str | None = field(repr=False)
    database_url: str | None = field(repr=False)
    enforce_user_param: bool
    max_request_bytes: int
    hook_timeout: float
    include_call_id_in_error_body: bool
    data_dir: Path
    redis: RedisSettings
    key_cache_ttl: float
    database_pool_size: int
    moderation_model: str | None
    post_call_rules_streaming: str
    json_logs: bool
    verbose: bool
    embedded_default: bool = False
    origins: tuple[tuple[str, str], ...] = ()
    default_vertex_config: dict[str, Any] | None = None
    """The top-level ``default_vertex_config`` (the ``/vertex_ai`` pass-through route's default credentials)."""
    """``(setting, where it came from)`` for the start-up log (never a value)."""


def load_config(path: str | os.PathLike[str] | None, *, warn: bool = True) -> GatewayConfig:
    """Load ``path``, or the embedded default when ``path`` is ``None``.

    ``warn=False`` silences the unknown-key warnings (worker processes load a
    config the parent already checked and warned about).
    """
    if path is None:
        from .default import embedded_default

        return config_from_mapping(
            embedded_default(), source="<embedded default>", base_dir=Path.cwd(), embedded=True, warn=warn
        )
    file = Path(path)
    raw = read_with_includes(file)
    return config_from_mapping(raw, source=str(file), base_dir=file.resolve().parent, warn=warn)


def config_from_mapping(
    raw: dict[str, Any], *, source: str, base_dir: Path, embedded: bool = False, warn: bool = True
) -> GatewayConfig:
    if "include" in raw:
        raise ConfigError("is only read from a config file", key="include", source=source)
    apply_environment_variables(raw, source=source)
    came_from = tuple(origins(raw))
    raw = resolve_environment(raw, source=source)
    litellm = _section(raw, "litellm_settings", source)
    general = _section(raw, "general_settings", source)
    router = _section(raw, "router_settings", source)
    handled = check_known(raw, source=source, warn=warn)
    if warn:
        for section, known, prefix in (
            (raw, TOP_LEVEL_KEYS, ""),
            (litellm, LITELLM_SETTINGS_KEYS, "litellm_settings."),
            (general, GENERAL_SETTINGS_KEYS, "general_settings."),
            (router, ROUTER_SETTINGS_KEYS, "router_settings."),
        ):
            _warn_unknown(section, known, prefix, source, handled)
    g = _Getter(general, "general_settings", source)
    l = _Getter(litellm, "litellm_settings", source)
    return GatewayConfig(
        source=source,
        base_dir=base_dir,
        model_list=for_environment(apply_default_params(_model_list(raw, source), router, source=source),
                                   source=source),
        litellm_settings=litellm,
        general_settings=general,
        router_settings=router,
        guardrails=_guardrail_list(raw.get("guardrails"), "guardrails", source),
        settings_guardrails=_guardrail_list(litellm.get("guardrails"), "litellm_settings.guardrails", source),
        callbacks=l.str_list("callbacks"),
        success_callbacks=l.str_list("success_callback"),
        failure_callbacks=l.str_list("failure_callback"),
        post_call_rules=l.str_list("post_call_rules"),
        master_key=from_config_or_env(g.opt("master_key", str), "LITELLM_MASTER_KEY"),
        database_url=g.opt("database_url", str) or os.environ.get("DATABASE_URL") or None,
        enforce_user_param=g.flag("enforce_user_param"),
        max_request_bytes=int(g.number("max_request_size_mb", 16.0, minimum=0.001) * 1024 * 1024),
        hook_timeout=g.number("hook_timeout", 30.0, minimum=0.001),
        include_call_id_in_error_body=g.flag("include_call_id_in_error_body"),
        data_dir=_data_dir(g.opt("data_dir", str), base_dir),
        redis=_redis_settings(router, source),
        key_cache_ttl=g.number("key_cache_ttl", 30.0, minimum=0.0),
        database_pool_size=int(g.number("database_connection_pool_limit", 5, minimum=1)),
        moderation_model=g.opt("moderation_model", str),
        post_call_rules_streaming=l.choice("post_call_rules_streaming", ("end", "hold"), "end"),
        json_logs=l.flag("json_logs"),
        verbose=l.flag("set_verbose"),
        embedded_default=embedded,
        origins=came_from,
        default_vertex_config=_optional_mapping(raw, "default_vertex_config", source),
    )


def _optional_mapping(raw: dict[str, Any], key: str, source: str) -> dict[str, Any] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError("must be a mapping", key=key, source=source)
    return value


class _Getter:
    """Typed reads from one settings section, with key paths in every error."""

    def __init__(self, section: dict[str, Any], name: str, source: str) -> None:
        self.section, self.name, self.source = section, name, source

    def _fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(problem, key=f"{self.name}.{key}", source=self.source)

    def opt(self, key: str, kind: type[T]) -> T | None:
        value = self.section.get(key)
        if value is None or value == "":
            return None
        if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # type: ignore[return-value]
        if not isinstance(value, kind):
            raise self._fail(key, f"must be a {kind.__name__}, not {type(value).__name__}")
        return value

    def flag(self, key: str) -> bool:
        value = self.section.get(key, False)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._fail(key, f"must be true or false, not {value!r}")
        return value

    def number(self, key: str, default: float, *, minimum: float) -> float:
        value = self.section.get(key, default)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self._fail(key, f"must be a number, not {value!r}") from None
        if isinstance(value, bool) or number < minimum:
            raise self._fail(key, f"must be a number ≥ {minimum}, not {value!r}")
        return number

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self.section.get(key, default)
        if value not in options:
            raise self._fail(key, f"must be one of {', '.join(options)}, not {value!r}")
        return value

    def str_list(self, key: str) -> list[str]:
        value = self.section.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "must be a string or a list of strings")
        return list(value)


def _section(raw: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"must be a mapping, not {type(value).__name__}", key=key, source=source)
    return value


def _model_list(raw: dict[str, Any], source: str) -> list[dict[str, Any]]:
    value = raw.get("model_list")
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"must be a list, not {type(value).__name__}", key="model_list", source=source)
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ConfigError("each entry must be a mapping", key=f"model_list[{i}]", source=source)
    return value


def _guardrail_list(value: Any, key: str, source: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError("must be a list of guardrail entries", key=key, source=source)
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ConfigError("each guardrail must be a mapping", key=f"{key}[{i}]", source=source)
    return value


def _data_dir(configured: str | None, base_dir: Path) -> Path:
    value = os.environ.get("GATEHOUSE_DATA_DIR") or configured
    if value:
        path = Path(value).expanduser()
        return path if path.is_absolute() else base_dir / path
    return Path.cwd() / ".gatehouse"


def _redis_settings(router: dict[str, Any], source: str) -> RedisSettings:
    """``router_settings.redis_*`` first, then LiteLLM's environment variables."""
    url = router.get("redis_url") or os.environ.get("REDIS_URL")
    host = router.get("redis_host") or os.environ.get("REDIS_HOST")
    port_value = router.get("redis_port") or os.environ.get("REDIS_PORT")
    password = router.get("redis_password") or os.environ.get("REDIS_PASSWORD")
    port: int | None = None
    if port_value is not None:
        try:
            port = int(port_value)
        except (TypeError, ValueError):
            raise ConfigError(f"must be a port number, not {port_value!r}", key="router_settings.redis_port", source=source) from None
    return RedisSettings(url=url or None, host=host or None, port=port, password=password or None)


def _warn_unknown(section: dict[str, Any], known: set[str], prefix: str, source: str, handled: set[str]) -> None:
    for key in section:
        if key not in known and f"{prefix}{key}" not in handled:
            log.warning("%s: %s%s: not used by Gatehouse; ignored", source, prefix, key)
