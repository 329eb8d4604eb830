"""Reading a LiteLLM proxy's database (its Prisma schema: ``"LiteLLM_<Name>"`` tables, camel-free columns).

Every table is read with ``SELECT *`` and rows are kept as dicts of what the
database holds, so columns added by newer LiteLLM versions do not break the
import and columns an older one lacks are simply absent. A table that does not
exist reads as empty (and is reported). Timestamps without a time zone (Prisma's
``TIMESTAMP(3)``) are UTC.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import asyncpg
import orjson

from ..auth.store_postgres import redact_url

__all__ = ["LiteLLMData", "TABLES", "read_litellm", "ReadError"]

#: Gatehouse's name for each kind → LiteLLM's table.
TABLES: dict[str, str] = {
    "keys": "LiteLLM_VerificationToken",
    "teams": "LiteLLM_TeamTable",
    "users": "LiteLLM_UserTable",
    "customers": "LiteLLM_EndUserTable",
    "budgets": "LiteLLM_BudgetTable",
    "organizations": "LiteLLM_OrganizationTable",
}


class ReadError(Exception):
    """The LiteLLM database cannot be read (the message never shows its password)."""


@dataclass
class LiteLLMData:
    """The rows of each kind (see :data:`TABLES`), and the tables that were missing."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return self.rows.get(kind, [])


async def read_litellm(database_url: str, *, timeout: float = 10.0) -> LiteLLMData:
    """Every table of :data:`TABLES` from the LiteLLM database at ``database_url``."""
    try:
        conn = await asyncpg.connect(database_url, timeout=timeout)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        raise ReadError(f"cannot connect to the LiteLLM database at {redact_url(database_url)}: "
                        f"{type(exc).__name__}: {_without_password(str(exc), database_url)}") from None
    data = LiteLLMData()
    try:
        for kind_name in ("json", "jsonb"):
            await conn.set_type_codec(kind_name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
                                      schema="pg_catalog")
        for kind, table in TABLES.items():
            try:
                records = await conn.fetch(f'SELECT * FROM "{table}"')
            except asyncpg.UndefinedTableError:
                data.missing.append(table)
                records = []
            data.rows[kind] = [_row(r) for r in records]
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise ReadError(f"cannot read the LiteLLM database: {type(exc).__name__}: {exc}") from None
    finally:
        await conn.close()
    return data


def _row(record: asyncpg.Record) -> dict[str, Any]:
    return {name: _value(record[name]) for name in record.keys()}


def _value(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _without_password(text: str, url: str) -> str:
    from urllib.parse import urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return text
    return text.replace(password, "***") if password else text
