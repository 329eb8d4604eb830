"""The gateway's resource limits, read from ``general_settings`` (see docs/config.md).

::

    max_request_size_mb        16     request bodies above it: 413
    request_body_timeout       30     seconds to receive a whole body: 408 after
    max_multipart_parts        100    parts of one multipart form: 400 beyond
    max_form_field_bytes       65536  bytes of one text field of a form: 413 beyond
    max_response_size_mb       8      bytes of one upstream answer (or one streamed event): 502 beyond
    database_connection_timeout 5     seconds to connect to / get a connection from PostgreSQL
    database_query_timeout     5      seconds one key-store statement may take: 503 after
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .config.errors import ConfigError
from .request_body import BodyLimits

__all__ = ["Limits", "LIMIT_KEYS"]

_MB = 1024 * 1024
#: The ``general_settings`` keys read here (for the unknown-key warning).
LIMIT_KEYS = frozenset({
    "request_body_timeout", "max_multipart_parts", "max_form_field_bytes", "max_response_size_mb",
    "database_connection_timeout", "database_query_timeout",
})


@dataclass(frozen=True, slots=True)
class Limits:
    body: BodyLimits = field(default_factory=BodyLimits)
    max_response_bytes: int = 8 * _MB
    database_connect_timeout: float = 5.0
    database_query_timeout: float = 5.0

    @classmethod
    def from_config(cls, general: Mapping[str, Any], *, max_request_bytes: int, source: str) -> "Limits":
        def number(key: str, default: float, minimum: float) -> float:
            value = general.get(key)
            if value is None or value == "":
                return default
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"must be a number, not {value!r}", key=f"general_settings.{key}",
                                  source=source) from None
            if isinstance(value, bool) or number < minimum:
                raise ConfigError(f"must be a number ≥ {minimum:g}, not {value!r}", key=f"general_settings.{key}",
                                  source=source)
            return number

        body = BodyLimits(
            max_bytes=max_request_bytes,
            read_timeout=number("request_body_timeout", 30.0, 0.001),
            max_parts=int(number("max_multipart_parts", 100, 1)),
            max_field_bytes=int(number("max_form_field_bytes", 64 * 1024, 1)),
        )
        return cls(
            body=body,
            max_response_bytes=int(number("max_response_size_mb", 8.0, 0.001) * _MB),
            database_connect_timeout=number("database_connection_timeout", 5.0, 0.001),
            database_query_timeout=number("database_query_timeout", 5.0, 0.001),
        )
