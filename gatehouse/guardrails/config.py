"""Guardrail entries of ``config.yaml``, validated into :class:`GuardrailConfig`.

Accepted shape (LiteLLM's v2 format, top-level ``guardrails:`` or
``litellm_settings.guardrails``)::

    - guardrail_name: pii-mask
      litellm_params:
        guardrail: generic_guardrail_api      # the only type Gatehouse runs
        mode: pre_call                        # or during_call | post_call | logging_only | a list
        api_base: http://guard:8080
        api_key: ...                          # sent as x-api-key
        default_on: false
        additional_provider_specific_params: {threshold: 0.8}
        allowed_request_params: [threshold]   # keys a request's extra_body may set (default: add only)
        headers: {Authorization: Bearer ...}
        timeout: 5                            # seconds, numeric strings accepted
        unreachable_fallback: fail_closed     # or fail_open
        fail_on_error: true
        num_retries: 0                        # 0-5
        extra_headers: [x-tenant]             # inbound headers whose values are forwarded
        streaming_sampling_rate: 5            # >= 1
        streaming_end_of_stream_only: false

Every problem raises :class:`gatehouse.config.errors.ConfigError` naming the
file and the key path (``guardrails[2].litellm_params.mode``); start-up stops.
Keys LiteLLM knows but Gatehouse does not use are accepted and logged once at
WARNING. Values arrive with ``os.environ/`` already resolved.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import orjson

from gatehouse.config.errors import ConfigError

__all__ = ["GuardrailConfig", "MODES", "ENDPOINT_PATH", "parse_guardrails", "guardrail_url"]

log = logging.getLogger("gatehouse.guardrails")

#: The modes a generic guardrail can run in.
MODES = ("pre_call", "during_call", "post_call", "logging_only")
#: The path of the Generic Guardrail API, appended to ``api_base``.
ENDPOINT_PATH = "/beta/litellm_basic_guardrail_api"
PROVIDER = "generic_guardrail_api"

_KNOWN = frozenset(
    {
        "guardrail", "mode", "api_base", "api_key", "default_on", "additional_provider_specific_params",
        "headers", "timeout", "unreachable_fallback", "fail_on_error", "num_retries", "extra_headers",
        "streaming_sampling_rate", "streaming_end_of_stream_only", "optional_params", "allowed_request_params",
    }
)
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0", ""})


@dataclass(frozen=True, slots=True)
class GuardrailConfig:
    """One validated guardrail entry."""

    name: str
    modes: tuple[str, ...]
    api_base: str
    url: str
    api_key: str | None = None
    default_on: bool = False
    additional_params: dict[str, Any] = field(default_factory=dict)
    allowed_request_params: tuple[str, ...] | None = None
    """Keys a request's ``extra_body`` may set; ``None``: only keys the admin did not set."""
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 5.0
    unreachable_fallback: str = "fail_closed"
    fail_on_error: bool = True
    num_retries: int = 0
    extra_headers: tuple[str, ...] = ()
    streaming_sampling_rate: int = 5
    streaming_end_of_stream_only: bool = False


def guardrail_url(api_base: str) -> str:
    """``api_base`` with the endpoint path appended once, trailing ``/`` stripped."""
    base = api_base.rstrip("/")
    return base if base.endswith(ENDPOINT_PATH) else base + ENDPOINT_PATH


def parse_guardrails(
    entries: list[dict[str, Any]], *, source: str, key_prefix: str = "guardrails"
) -> list[GuardrailConfig]:
    """Validate guardrail entries; raise :class:`ConfigError` on the first problem.

    Guardrail names must be unique (they are what requests select by).
    """
    if not isinstance(entries, list):
        raise ConfigError("must be a list of guardrail entries", key=key_prefix, source=source)
    configs: list[GuardrailConfig] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        key = f"{key_prefix}[{i}]"
        cfg = _parse_entry(entry, _Where(source, key))
        if cfg.name in seen:
            raise ConfigError(
                f"duplicate guardrail_name '{cfg.name}' (also {key_prefix}[{seen[cfg.name]}]); names must be unique",
                key=f"{key}.guardrail_name",
                source=source,
            )
        seen[cfg.name] = i
        configs.append(cfg)
    return configs


@dataclass(frozen=True, slots=True)
class _Where:
    source: str
    key: str

    def error(self, sub: str, problem: str) -> ConfigError:
        return ConfigError(problem, key=f"{self.key}.{sub}" if sub else self.key, source=self.source)


def _parse_entry(entry: Any, where: _Where) -> GuardrailConfig:
    if not isinstance(entry, Mapping):
        raise where.error("", "must be a mapping with guardrail_name and litellm_params")
    if "guardrail_name" not in entry and len(entry) == 1:
        raise where.error(
            "", "the legacy v1 guardrail format ({name: {callbacks: ...}}) is not supported; "
            "use {guardrail_name, litellm_params}"
        )
    name = entry.get("guardrail_name")
    if not isinstance(name, str) or not name.strip():
        raise where.error("guardrail_name", "must be a non-empty string")
    params = entry.get("litellm_params")
    if not isinstance(params, Mapping):
        raise where.error("litellm_params", "must be a mapping")
    p = _Where(where.source, f"{where.key}.litellm_params")
    kind = params.get("guardrail")
    if kind != PROVIDER:
        raise p.error("guardrail", f"unsupported guardrail type {kind!r}; Gatehouse runs '{PROVIDER}' only")
    _warn_unused(name, params)
    api_base = _api_base(params.get("api_base"), p)
    return GuardrailConfig(
        name=name,
        modes=_modes(params.get("mode"), p),
        api_base=api_base,
        url=guardrail_url(api_base),
        api_key=_opt_str(params.get("api_key"), p, "api_key"),
        default_on=_bool(params.get("default_on"), p, "default_on", False),
        additional_params=_json_dict(params.get("additional_provider_specific_params"), p),
        allowed_request_params=_allowed(params.get("allowed_request_params"), p),
        headers=_headers(params.get("headers"), p),
        timeout=_timeout(params.get("timeout"), p),
        unreachable_fallback=_fallback(params.get("unreachable_fallback"), p),
        fail_on_error=_bool(params.get("fail_on_error"), p, "fail_on_error", True),
        num_retries=_int(params.get("num_retries"), p, "num_retries", 0, 0, 5),
        extra_headers=_names(params.get("extra_headers"), p),
        **_streaming(params, p),
    )


def _warn_unused(name: str, params: Mapping[str, Any]) -> None:
    unused = sorted(k for k in params if k not in _KNOWN)
    if unused:
        log.warning("guardrail '%s': litellm_params %s are not used by Gatehouse and are ignored", name, unused)


def _api_base(value: Any, p: _Where) -> str:
    if not isinstance(value, str) or not value.strip():
        raise p.error("api_base", "is required (the guardrail service's URL, e.g. http://guard:8080)")
    value = value.strip()
    if not value.startswith(("http://", "https://")):
        raise p.error("api_base", f"must start with http:// or https:// (got {value!r})")
    return value


def _modes(value: Any, p: _Where) -> tuple[str, ...]:
    if isinstance(value, Mapping):
        raise p.error("mode", "tag-dependent modes ({tags: ..., default: ...}) are not supported; use a mode or a list")
    raw = [value] if isinstance(value, str) else value
    if not isinstance(raw, list) or not raw:
        raise p.error("mode", f"is required: one of {', '.join(MODES)}, or a list of them")
    modes: list[str] = []
    for item in raw:
        if item not in MODES:
            raise p.error("mode", f"unknown mode {item!r}; expected one of {', '.join(MODES)}")
        if item not in modes:
            modes.append(item)
    return tuple(modes)


def _opt_str(value: Any, p: _Where, key: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise p.error(key, f"must be a string (got {type(value).__name__})")
    return value


def _bool(value: Any, p: _Where, key: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise p.error(key, f"must be true or false (got {value!r})")


def _number(value: Any, p: _Where, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise p.error(key, f"must be a number (got {value!r})")
    try:
        number = float(value)
    except ValueError:
        raise p.error(key, f"must be a number (got {value!r})") from None
    if not math.isfinite(number):
        raise p.error(key, f"must be a finite number (got {value!r})")
    return number


def _int(value: Any, p: _Where, key: str, default: int, low: int, high: int | None) -> int:
    if value is None:
        return default
    number = _number(value, p, key)
    if number != int(number):
        raise p.error(key, f"must be a whole number (got {value!r})")
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise p.error(key, f"must be {bound} (got {value!r})")
    return int(number)


def _timeout(value: Any, p: _Where) -> float:
    if value is None:
        return 5.0
    number = _number(value, p, "timeout")
    if number <= 0:
        raise p.error("timeout", f"must be greater than 0 seconds (got {value!r})")
    return number


def _fallback(value: Any, p: _Where) -> str:
    if value is None:
        return "fail_closed"
    if value not in ("fail_closed", "fail_open"):
        raise p.error("unreachable_fallback", f"must be fail_closed or fail_open (got {value!r})")
    return str(value)


def _json_dict(value: Any, p: _Where) -> dict[str, Any]:
    key = "additional_provider_specific_params"
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise p.error(key, f"must be a mapping (got {type(value).__name__})")
    try:
        orjson.dumps(dict(value))
    except TypeError as exc:
        raise p.error(key, f"must be JSON-serialisable ({exc})") from None
    return dict(value)


def _allowed(value: Any, p: _Where) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise p.error("allowed_request_params", "must be a list of parameter names (an empty list: none)")
    return tuple(dict.fromkeys(value))


def _headers(value: Any, p: _Where) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise p.error("headers", f"must be a mapping of header names to values (got {type(value).__name__})")
    out: dict[str, str] = {}
    for name, val in value.items():
        if not isinstance(name, str) or not name or isinstance(val, (dict, list, bool)) or val is None:
            raise p.error(f"headers.{name}", "must be a string (or number) header value")
        out[name] = str(val)
    return out


def _names(value: Any, p: _Where) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise p.error("extra_headers", "must be a list of header names")
    return tuple(dict.fromkeys(v.lower() for v in value))


def _streaming(params: Mapping[str, Any], p: _Where) -> dict[str, Any]:
    """The streaming knobs; values inside ``optional_params`` win (LiteLLM does the same)."""
    nested = params.get("optional_params")
    if nested is not None and not isinstance(nested, Mapping):
        raise p.error("optional_params", "must be a mapping")
    nested = nested or {}
    rate_key = "optional_params.streaming_sampling_rate" if "streaming_sampling_rate" in nested else "streaming_sampling_rate"
    eos_key = (
        "optional_params.streaming_end_of_stream_only"
        if "streaming_end_of_stream_only" in nested
        else "streaming_end_of_stream_only"
    )
    rate = nested.get("streaming_sampling_rate", params.get("streaming_sampling_rate"))
    eos = nested.get("streaming_end_of_stream_only", params.get("streaming_end_of_stream_only"))
    return {
        "streaming_sampling_rate": _int(rate, p, rate_key, 5, 1, None),
        "streaming_end_of_stream_only": _bool(eos, p, eos_key, False),
    }
