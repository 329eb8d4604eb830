"""Schema migrations for the key store, on SQLite and PostgreSQL.

The schema is an ordered list of :class:`Migration`, numbered 1, 2, 3, ...
Each carries the SQL for both dialects (JSON columns are ``TEXT`` on SQLite,
``JSONB`` on PostgreSQL). ``gatehouse_schema_version`` records which ones
ran. At ``open()`` a store calls :func:`migrate_sqlite` or
:func:`migrate_postgres`, which, in one transaction:

1. takes the schema lock (``BEGIN IMMEDIATE`` on SQLite; a transaction-scoped
   advisory lock on PostgreSQL, so processes starting together queue up),
2. creates ``gatehouse_schema_version`` if needed,
3. applies every migration whose version is not recorded, in order, and
   records it.

Running it again applies nothing (idempotent). A database migrated by a newer
Gatehouse (versions this code does not know) is used as is, with a warning:
migrations only add, so older code keeps working during a rolling upgrade.

To change the schema, append ``Migration(<next number>, ...)`` to
:data:`MIGRATIONS`; never edit one that has shipped.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Sequence

import aiosqlite
import asyncpg

from ..spend.schema import spend_log_statements
from .keys import utc_now

__all__ = [
    "Migration",
    "MIGRATIONS",
    "KEYS_TABLE",
    "VERSION_TABLE",
    "ADVISORY_LOCK_ID",
    "check_migrations",
    "migrate_sqlite",
    "migrate_postgres",
    "begin_immediate",
    "execute_when_free",
]

log = logging.getLogger(__name__)

KEYS_TABLE = "gatehouse_verification_tokens"
VERSION_TABLE = "gatehouse_schema_version"
#: How long ``begin_immediate`` keeps retrying a busy SQLite database.
SQLITE_LOCK_TIMEOUT_S = 10.0
#: PostgreSQL advisory lock key held while migrating ("gatehous" in ASCII).
ADVISORY_LOCK_ID = 0x67617465686F7573


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: the same change written for each dialect."""

    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


def _keys_table(*, text_json: str, big_int: str, real: str, ts: str, boolean: str, false: str) -> tuple[str, ...]:
    """Migration 1 in one dialect: the virtual keys table and its indexes."""
    create = f"""
        CREATE TABLE {KEYS_TABLE} (
            token TEXT PRIMARY KEY,
            key_name TEXT,
            key_alias TEXT,
            user_id TEXT,
            team_id TEXT,
            team_alias TEXT,
            organization_id TEXT,
            models {text_json} NOT NULL DEFAULT '[]',
            metadata {text_json} NOT NULL DEFAULT '{{}}',
            tags {text_json} NOT NULL DEFAULT '[]',
            max_parallel_requests {big_int},
            rpm_limit {big_int},
            tpm_limit {big_int},
            max_budget {real},
            spend {real} NOT NULL DEFAULT 0,
            expires {ts},
            blocked {boolean} NOT NULL DEFAULT {false},
            created_at {ts} NOT NULL,
            updated_at {ts} NOT NULL
        )"""
    indexes = tuple(
        f"CREATE INDEX {KEYS_TABLE}_{column}_idx ON {KEYS_TABLE} ({column})"
        for column in ("user_id", "team_id", "key_alias", "created_at")
    )
    return (create, *indexes)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "virtual keys table",
        sqlite=_keys_table(text_json="TEXT", big_int="INTEGER", real="REAL", ts="TEXT", boolean="INTEGER", false="0"),
        postgres=_keys_table(
            text_json="JSONB", big_int="BIGINT", real="DOUBLE PRECISION", ts="TIMESTAMPTZ", boolean="BOOLEAN", false="FALSE"
        ),
    ),
    # Version 2 is the governance tables (teams, users, customers, organizations, budgets), from the
    # gov-principals branch: this placeholder stands in for it until that lands, and is replaced by it.
    Migration(2, "reserved: governance tables", sqlite=(), postgres=()),
    Migration(3, "spend logs", sqlite=spend_log_statements("sqlite"), postgres=spend_log_statements("postgres")),
    # Append Migration(4, "...", sqlite=(...), postgres=(...)) here.
)


def check_migrations(migrations: Sequence[Migration]) -> None:
    """Raise ``ValueError`` unless versions run 1, 2, 3, ... without gaps."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(f"migration {migration.name!r} has version {migration.version}, expected {expected}")


def _pending(applied: set[int], migrations: Sequence[Migration]) -> list[Migration]:
    newer = sorted(v for v in applied if v > len(migrations))
    if newer:
        log.warning(
            "database schema has versions %s unknown to this Gatehouse (it knows up to %d); using it as is",
            newer,
            len(migrations),
        )
    return [m for m in migrations if m.version not in applied]


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


async def execute_when_free(conn: aiosqlite.Connection, sql: str, timeout: float = SQLITE_LOCK_TIMEOUT_S) -> None:
    """Run ``sql``, retrying (backing off) while the SQLite file is busy.

    SQLite's busy timeout does not cover every case: while another
    connection switches a new file to WAL mode, ``PRAGMA journal_mode`` and
    ``BEGIN`` fail at once with "database is locked". Retry until ``timeout``.
    """
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            await conn.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.25)


async def begin_immediate(conn: aiosqlite.Connection, timeout: float = SQLITE_LOCK_TIMEOUT_S) -> None:
    """``BEGIN IMMEDIATE`` (take the write lock), retried while the file is busy."""
    await execute_when_free(conn, "BEGIN IMMEDIATE", timeout)


async def migrate_sqlite(conn: aiosqlite.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Bring a SQLite database up to date; return the versions applied now.

    ``conn`` must be in autocommit mode (``isolation_level=None``): this
    function runs its own ``BEGIN IMMEDIATE ... COMMIT``.
    """
    check_migrations(migrations)
    await begin_immediate(conn)
    try:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        async with conn.execute(f"SELECT version FROM {VERSION_TABLE}") as cursor:
            applied = {row[0] for row in await cursor.fetchall()}
        todo = _pending(applied, migrations)
        for migration in todo:
            for statement in migration.sqlite:
                await conn.execute(statement)
            await conn.execute(
                f"INSERT INTO {VERSION_TABLE} (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, utc_now().isoformat()),
            )
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    return [m.version for m in todo]


async def migrate_postgres(conn: asyncpg.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Bring a PostgreSQL database up to date; return the versions applied now.

    Safe when several processes start at once: the advisory lock makes them
    migrate one after the other, and the later ones find nothing to do.
    """
    check_migrations(migrations)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", ADVISORY_LOCK_ID)
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        applied = {row["version"] for row in await conn.fetch(f"SELECT version FROM {VERSION_TABLE}")}
        todo = _pending(applied, migrations)
        for migration in todo:
            for statement in migration.postgres:
                await conn.execute(statement)
            await conn.execute(
                f"INSERT INTO {VERSION_TABLE} (version, name) VALUES ($1, $2)", migration.version, migration.name
            )
    return [m.version for m in todo]
