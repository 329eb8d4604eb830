"""The spend-log settings, LiteLLM's names in ``general_settings``.

==========================================  ==========================================================
``disable_spend_logs: true``                no rows are written (the routes answer from what is there)
``maximum_spend_logs_retention_period``     rows older than this are deleted (``"30d"``, ``"12h"``, ...);
                                            unset: kept for ever
``maximum_spend_logs_retention_interval``   how often the clean-up runs (default ``"1d"``; at start too)
``store_prompts_in_spend_logs: true``       the request's messages and the answer are stored in the row
``proxy_batch_write_at``                    seconds between batch writes (default 2; shared with spend)
==========================================  ==========================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..config.errors import ConfigError

__all__ = ["SpendLogSettings", "parse_period"]

_PERIOD = re.compile(r"\s*(\d+)\s*(s|m|h|d|w|mo)\s*")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400}
DEFAULT_INTERVAL_S = 86400.0
DEFAULT_BATCH_S = 2.0


def parse_period(value: Any) -> float | None:
    """``"30d"``, ``"12h"``, ``"10m"``, ``"45s"``, ``"2w"``, ``"1mo"`` (30 days) → seconds; ``None`` if malformed."""
    match = _PERIOD.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) <= 0:
        return None
    return float(int(match.group(1)) * _SECONDS[match.group(2)])


@dataclass(frozen=True, slots=True)
class SpendLogSettings:
    enabled: bool = True
    retention_s: float | None = None
    cleanup_interval_s: float = DEFAULT_INTERVAL_S
    store_prompts: bool = False
    batch_interval_s: float = DEFAULT_BATCH_S

    @classmethod
    def from_config(cls, general: Mapping[str, Any], *, source: str) -> SpendLogSettings:
        retention = _period(general, "maximum_spend_logs_retention_period", source)
        interval = _period(general, "maximum_spend_logs_retention_interval", source)
        return cls(
            enabled=not _flag(general, "disable_spend_logs", source),
            retention_s=retention,
            cleanup_interval_s=interval or DEFAULT_INTERVAL_S,
            store_prompts=_flag(general, "store_prompts_in_spend_logs", source),
            batch_interval_s=_batch(general, source),
        )


def _flag(general: Mapping[str, Any], key: str, source: str) -> bool:
    value = general.get(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"must be true or false, not {value!r}", key=f"general_settings.{key}", source=source)


def _period(general: Mapping[str, Any], key: str, source: str) -> float | None:
    value = general.get(key)
    if value is None:
        return None
    seconds = parse_period(value)
    if seconds is None:
        raise ConfigError(f"must be a period like \"30d\", \"12h\", \"10m\" or \"45s\", not {value!r}",
                          key=f"general_settings.{key}", source=source)
    return seconds


def _batch(general: Mapping[str, Any], source: str) -> float:
    value = general.get("proxy_batch_write_at")
    try:
        seconds = float(value) if value is not None else DEFAULT_BATCH_S
    except (TypeError, ValueError):
        seconds = -1.0
    if seconds <= 0:
        raise ConfigError(f"must be a number of seconds above 0, not {value!r}",
                          key="general_settings.proxy_batch_write_at", source=source)
    return seconds
