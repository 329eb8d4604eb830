"""The admin console's settings (``general_settings``), read once at start-up.

::

    general_settings:
      disable_admin_ui: false         # true: no /ui, no live request log (env DISABLE_ADMIN_UI=true too)
      ui_request_log_size: 500        # requests kept for the live log; 0 turns the log off
      ui_request_log_content: false   # true: the log also keeps prompt and answer text
      ui_request_log_always: false    # true: record even while no console is open (CPU on every request)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from ..config.errors import ConfigError

__all__ = ["UISettings", "SETTINGS_KEYS", "MAX_LOG_SIZE"]

#: The ``general_settings`` keys this module reads.
SETTINGS_KEYS = frozenset({"disable_admin_ui", "ui_request_log_size", "ui_request_log_content",
                           "ui_request_log_always"})
MAX_LOG_SIZE = 100_000
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class UISettings:
    enabled: bool = True
    request_log_size: int = 500
    request_log_content: bool = False
    request_log_always: bool = False

    @property
    def request_log(self) -> bool:
        return self.enabled and self.request_log_size > 0

    @classmethod
    def from_config(cls, general: Mapping[str, Any], *, source: str,
                    environ: Mapping[str, str] = os.environ) -> UISettings:
        disabled = _flag(general, "disable_admin_ui", source)
        if environ.get("DISABLE_ADMIN_UI", "").strip().lower() in _TRUE:
            disabled = True
        size = general.get("ui_request_log_size", 500)
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_LOG_SIZE:
            raise ConfigError(f"must be a whole number from 0 to {MAX_LOG_SIZE}, not {size!r}",
                              key="general_settings.ui_request_log_size", source=source)
        return cls(enabled=not disabled, request_log_size=size,
                   request_log_content=_flag(general, "ui_request_log_content", source),
                   request_log_always=_flag(general, "ui_request_log_always", source))


def _flag(general: Mapping[str, Any], key: str, source: str) -> bool:
    value = general.get(key, False)
    if value is None or isinstance(value, bool):
        return bool(value)
    raise ConfigError(f"must be true or false, not {value!r}", key=f"general_settings.{key}", source=source)
