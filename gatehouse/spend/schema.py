"""The ``gatehouse_spend_logs`` table: one row per request (see ``docs/spend.md`` for the columns).

Self-contained: :func:`spend_log_statements` is migration 3 of the key store
(:mod:`gatehouse.auth.migrations`) and only creates this table and its
indexes. Times are ``TIMESTAMPTZ`` on PostgreSQL and fixed-width ISO 8601
UTC text on SQLite (they sort as strings); JSON is ``JSONB`` / text.
"""

from __future__ import annotations

__all__ = ["SPEND_LOGS_TABLE", "SPEND_LOG_COLUMNS", "JSON_COLUMNS", "TIME_COLUMNS", "FLAG_COLUMNS",
           "spend_log_statements"]

SPEND_LOGS_TABLE = "gatehouse_spend_logs"

#: Column → kind (``text``, ``int``, ``real``, ``time``, ``json``, ``flag``), in table order.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("request_id", "text"), ("response_id", "text"), ("call_type", "text"), ("api_key", "text"),
    ("key_alias", "text"), ("spend", "real"), ("prompt_tokens", "int"), ("completion_tokens", "int"),
    ("cached_tokens", "int"), ("total_tokens", "int"), ("start_time", "time"), ("end_time", "time"),
    ("request_duration_ms", "int"), ("model", "text"), ("model_id", "text"), ("model_group", "text"),
    ("custom_llm_provider", "text"), ("api_base", "text"), ("user_id", "text"), ("team_id", "text"),
    ("team_alias", "text"), ("organization_id", "text"), ("end_user", "text"), ("status", "text"),
    ("error_class", "text"), ("error_code", "text"), ("cache_hit", "flag"), ("stream", "flag"),
    ("request_tags", "json"), ("guardrails", "json"), ("metadata", "json"), ("messages", "json"),
    ("response", "json"),
)
SPEND_LOG_COLUMNS: tuple[str, ...] = tuple(name for name, _ in _COLUMNS)
JSON_COLUMNS = frozenset(name for name, kind in _COLUMNS if kind == "json")
TIME_COLUMNS = frozenset(name for name, kind in _COLUMNS if kind == "time")
FLAG_COLUMNS = frozenset(name for name, kind in _COLUMNS if kind == "flag")
#: Reports read by date range and /spend/logs by key; one more index per column would cost every insert.
_INDEXED = ("start_time", "api_key")


def _statements(types: dict[str, str]) -> tuple[str, ...]:
    columns = ",\n            ".join(
        f"{name} {types[kind]}" + (" PRIMARY KEY" if name == "request_id" else "") for name, kind in _COLUMNS)
    create = f"CREATE TABLE {SPEND_LOGS_TABLE} (\n            {columns}\n        )"
    indexes = tuple(f"CREATE INDEX {SPEND_LOGS_TABLE}_{column}_idx ON {SPEND_LOGS_TABLE} ({column})"
                    for column in _INDEXED)
    return (create, *indexes)


_SQLITE = {"text": "TEXT", "int": "INTEGER", "real": "REAL", "time": "TEXT", "json": "TEXT", "flag": "INTEGER"}
_POSTGRES = {"text": "TEXT", "int": "BIGINT", "real": "DOUBLE PRECISION", "time": "TIMESTAMPTZ",
             "json": "JSONB", "flag": "BOOLEAN"}


def spend_log_statements(dialect: str) -> tuple[str, ...]:
    """The table and its indexes in ``"sqlite"`` or ``"postgres"``."""
    return _statements(_SQLITE if dialect == "sqlite" else _POSTGRES)
