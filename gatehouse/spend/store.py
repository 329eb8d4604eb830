"""Where spend-log rows live: the key store's database, through a connection of their own.

::

    open_spend_log_store(database_url, data_dir)   same database as the key store (SQLite or PostgreSQL)

A store of its own so that writing a batch never queues behind key look-ups:
an asyncpg pool of 1-2 on PostgreSQL; on SQLite one connection used from one
thread of its own, where a whole batch (``BEGIN IMMEDIATE`` … ``COMMIT``) is
one call, so the file's write lock is held only while rows are written (a
transaction spread over event-loop turns would hold it while the loop is busy,
and the key store's own writes would wait for it). ``open()`` runs the
key store's migrations (idempotent; the table is migration 3). Queries are
written once with :class:`Dialect` filling in what differs (placeholders, the
day of a timestamp, expanding the JSON tag list).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import aiosqlite
import asyncpg
import orjson

from ..auth.keys import KeyStoreError, as_utc
from ..auth.migrations import migrate_postgres, migrate_sqlite
from ..auth.store import DEFAULT_SQLITE_FILE
from ..auth.store_postgres import redact_url
from .rows import SpendLogRow
from .schema import (FLAG_COLUMNS, JSON_COLUMNS, SPEND_LOG_COLUMNS, SPEND_LOGS_TABLE, TIME_COLUMNS,
                     spend_log_statements)

__all__ = ["SpendLogStore", "LogFilter", "open_spend_log_store"]

T = SPEND_LOGS_TABLE
_PG_ERRORS = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Rows matching every field given; ``start`` inclusive, ``end`` exclusive."""

    request_id: str | None = None
    api_key: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    end_user: str | None = None
    start: datetime | None = None
    end: datetime | None = None


class Dialect:
    """What differs between SQLite and PostgreSQL in the queries below."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.postgres = name == "postgres"
        self.day = ("to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')" if self.postgres
                    else "substr(start_time, 1, 10)")
        self.tags = (f"{T} CROSS JOIN LATERAL jsonb_array_elements_text({T}.request_tags) AS tag(value)"
                     if self.postgres else f"{T}, json_each({T}.request_tags) AS tag")

        #: (column index, encoder) for the columns stored as something else than the row holds: JSON as text
        #: (both; PostgreSQL casts it to JSONB), on SQLite also times as ISO text and flags as 0/1.
        kinds = (("json", JSON_COLUMNS),) if self.postgres else (
            ("json", JSON_COLUMNS), ("time", TIME_COLUMNS), ("flag", FLAG_COLUMNS))
        self._encoders: list[tuple[int, Any]] = [
            (i, _SQLITE_ENCODERS[kind]) for i, name in enumerate(SPEND_LOG_COLUMNS) for kind, names in kinds
            if name in names]
        marks = (f"({self.mark(i)}::text)::jsonb" if self.postgres and name in JSON_COLUMNS else self.mark(i)
                 for i, name in enumerate(SPEND_LOG_COLUMNS, start=1))
        self.insert_sql = (f"INSERT INTO {T} ({', '.join(SPEND_LOG_COLUMNS)}) VALUES ({', '.join(marks)}) "
                           "ON CONFLICT DO NOTHING")

    def encode_row(self, row: SpendLogRow) -> tuple[Any, ...]:
        """The row as the database takes it: atoms only (a buffer of these costs the garbage collector nothing)."""
        out = list(row.values())
        for i, encode in self._encoders:
            if out[i] is not None:
                out[i] = encode(out[i])
        return tuple(out)

    def mark(self, n: int) -> str:
        return f"${n}" if self.postgres else "?"

    def encode(self, column: str, value: Any) -> Any:
        if value is None or self.postgres:
            return value  # asyncpg takes datetimes and bools; the pool's codec encodes JSONB
        if column in JSON_COLUMNS:
            return orjson.dumps(value).decode()
        if column in TIME_COLUMNS:
            return _iso(value)
        if column in FLAG_COLUMNS:
            return 1 if value else 0
        return value

    def decode(self, row: Any) -> SpendLogRow:
        values = {name: row[name] for name in SPEND_LOG_COLUMNS}
        if not self.postgres:
            for name in JSON_COLUMNS:
                if values[name] is not None:
                    values[name] = orjson.loads(values[name])
            for name in TIME_COLUMNS:
                if values[name] is not None:
                    values[name] = datetime.fromisoformat(values[name])
            for name in FLAG_COLUMNS:
                values[name] = bool(values[name])
        return SpendLogRow.from_mapping(values)

    def where(self, f: LogFilter) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        for column, value in (("api_key", f.api_key), ("user_id", f.user_id), ("team_id", f.team_id),
                              ("end_user", f.end_user)):
            if value is not None:
                params.append(value)
                parts.append(f"{column} = {self.mark(len(params))}")
        if f.request_id is not None:  # the call id, or the answer's id (LiteLLM's request_id)
            params.append(f.request_id)
            parts.append(f"(request_id = {self.mark(len(params))} OR response_id = {self.mark(len(params) + 1)})")
            params.append(f.request_id)
        for op, moment in ((">=", f.start), ("<", f.end)):
            if moment is not None:
                params.append(self.encode("start_time", moment))
                parts.append(f"start_time {op} {self.mark(len(params))}")
        return (" AND ".join(parts) or "1 = 1"), params


#: Rows per SQLite INSERT statement (33 columns each: under SQLite's 32 766 parameters).
_SQLITE_ROWS_PER_INSERT = 400


@functools.lru_cache(maxsize=8)
def _sqlite_insert(rows: int) -> str:
    one = "(" + ", ".join("?" * len(SPEND_LOG_COLUMNS)) + ")"
    return (f"INSERT INTO {T} ({', '.join(SPEND_LOG_COLUMNS)}) VALUES " + ", ".join([one] * rows)
            + " ON CONFLICT DO NOTHING")


def _iso(value: datetime) -> str:
    """Fixed-width ISO 8601 in UTC (``2025-01-31T12:00:00.000000+00:00``): sorts as text."""
    return (value if value.tzinfo is timezone.utc else as_utc(value)).isoformat(timespec="microseconds")


def _json_text(value: Any) -> str:
    if not value:
        return "[]" if isinstance(value, list) else "{}" if isinstance(value, dict) else orjson.dumps(value).decode()
    return orjson.dumps(value).decode()


_SQLITE_ENCODERS: dict[str, Any] = {
    "json": _json_text,
    "time": _iso,
    "flag": lambda v: 1 if v else 0,
}


class SpendLogStore:
    """Spend-log rows in SQLite (``path``) or PostgreSQL (``dsn``)."""

    def __init__(self, *, path: str | None = None, dsn: str | None = None) -> None:
        self._path, self._dsn = path, dsn
        self.dialect = Dialect("postgres" if dsn else "sqlite")
        self._db: sqlite3.Connection | None = None
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        return f"SpendLogStore({redact_url(self._dsn) if self._dsn else self._path!r})"

    async def open(self) -> None:
        try:
            if self._dsn:
                self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=2, init=_pg_codecs)
                async with self._pool.acquire() as conn:
                    await migrate_postgres(conn)
            else:
                assert self._path is not None
                self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gatehouse-spend-logs")
                if self._path != ":memory:":  # the key store's migrations (idempotent; the table is one of them)
                    conn = await aiosqlite.connect(self._path, isolation_level=None)
                    try:
                        await migrate_sqlite(conn)
                    finally:
                        await conn.close()
                self._db = await self._in_thread(_connect_sqlite, self._path)
        except (*_PG_ERRORS, sqlite3.Error, ValueError) as exc:
            await self.close()
            raise KeyStoreError(f"cannot open the spend logs in {self!r}: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        db, self._db = self._db, None
        pool, self._pool = self._pool, None
        if db is not None:
            await self._in_thread(db.close)
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        if pool is not None:
            await pool.close()

    # -- writing -----------------------------------------------------------------------
    async def insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Add rows (:meth:`Dialect.encode_row`) in one transaction (a request id already stored is skipped)."""
        if not rows:
            return
        if self._pool is not None:
            async with self._pg() as pool, pool.acquire() as conn, conn.transaction():
                await conn.executemany(self.dialect.insert_sql, rows)
            return
        async with self._sqlite():
            await self._in_thread(_insert_sqlite, self._db, rows)

    async def delete_before(self, cutoff: datetime) -> int:
        """Delete rows that started before ``cutoff``; how many."""
        d = self.dialect
        sql = f"DELETE FROM {T} WHERE start_time < {d.mark(1)}"
        if self._pool is not None:
            async with self._pg() as pool:
                status = await pool.execute(sql, cutoff)
            return int(status.rsplit(" ", 1)[-1])
        async with self._sqlite():
            return await self._in_thread(_write_sqlite, self._db, sql, [d.encode("start_time", cutoff)])

    # -- reading -----------------------------------------------------------------------
    async def find(self, f: LogFilter, *, limit: int) -> list[SpendLogRow]:
        """Matching rows, newest first."""
        clause, params = self.dialect.where(f)
        sql = (f"SELECT {', '.join(SPEND_LOG_COLUMNS)} FROM {T} WHERE {clause} "
               f"ORDER BY start_time DESC LIMIT {int(limit)}")
        return [self.dialect.decode(r) for r in await self._fetch(sql, params)]

    async def aggregate(self, f: LogFilter, by: Sequence[str]) -> list[dict[str, Any]]:
        """``SUM(spend)``, token sums and the row count per distinct ``by`` (column names, or ``day``)."""
        d = self.dialect
        allowed = {"day": d.day, "api_key": "api_key", "user_id": "user_id", "model": "model",
                   "team_id": "team_id", "team_alias": "team_alias", "end_user": "end_user", "key_alias": "key_alias"}
        keys = [f"{allowed[name]} AS {name}" for name in by]
        clause, params = d.where(f)
        group = ", ".join(allowed[name] for name in by)
        sql = (f"SELECT {', '.join(keys)}, SUM(spend) AS spend, SUM(total_tokens) AS total_tokens, "
               f"SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens, "
               f"COUNT(*) AS requests FROM {T} WHERE {clause} GROUP BY {group} ORDER BY {group}")
        return [dict(r) for r in await self._fetch(sql, params)]

    async def by_tag(self, f: LogFilter) -> list[dict[str, Any]]:
        """Rows and spend per request tag (a row counts once for each of its tags)."""
        d = self.dialect
        clause, params = d.where(f)
        sql = (f"SELECT tag.value AS tag, COUNT(*) AS log_count, SUM(spend) AS total_spend FROM {d.tags} "
               f"WHERE {clause} GROUP BY tag.value ORDER BY total_spend DESC, tag.value")
        return [dict(r) for r in await self._fetch(sql, params)]

    async def ping(self) -> bool:
        try:
            await self._fetch("SELECT 1 AS one", [])
        except KeyStoreError:
            return False
        return True

    # -- connections -------------------------------------------------------------------
    async def _fetch(self, sql: str, params: list[Any]) -> list[Any]:
        if self._pool is not None:
            async with self._pg() as pool:
                return list(await pool.fetch(sql, *params))
        async with self._sqlite():
            return await self._in_thread(_read_sqlite, self._db, sql, params)

    def _pg(self) -> Any:
        return _Guard(self, self._pool)

    def _sqlite(self) -> Any:
        return _Guard(self, self._db)

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)


class _Guard:
    """The connection or pool; database errors become :class:`KeyStoreError`."""

    def __init__(self, store: SpendLogStore, handle: Any) -> None:
        self.store, self.handle = store, handle

    async def __aenter__(self) -> Any:
        if self.handle is None:
            raise KeyStoreError("the spend log store is not open")
        return self.handle

    async def __aexit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, (*_PG_ERRORS, sqlite3.Error)):
            raise KeyStoreError(f"spend log store error: {type(exc).__name__}: {exc}") from exc


# -- SQLite, in the store's own thread ------------------------------------------------------------


def _connect_sqlite(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA busy_timeout = 5000")
    if path != ":memory:":
        db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")  # WAL: a crash loses at most the last batch, never the file
    if path == ":memory:":  # a private database: only this table
        for statement in spend_log_statements("sqlite"):
            db.execute(statement)
    return db


def _insert_sqlite(db: sqlite3.Connection, params: Sequence[tuple[Any, ...]]) -> None:
    """One transaction; many rows per statement (one sqlite3_step per chunk, not per row)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for i in range(0, len(params), _SQLITE_ROWS_PER_INSERT):
            chunk = params[i:i + _SQLITE_ROWS_PER_INSERT]
            db.execute(_sqlite_insert(len(chunk)), [v for row in chunk for v in row])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _write_sqlite(db: sqlite3.Connection, sql: str, params: list[Any]) -> int:
    return max(db.execute(sql, params).rowcount, 0)


def _read_sqlite(db: sqlite3.Connection, sql: str, params: list[Any]) -> list[Any]:
    return db.execute(sql, params).fetchall()


async def _pg_codecs(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
                              schema="pg_catalog")


def open_spend_log_store(database_url: str | None, data_dir: Path) -> SpendLogStore:
    """The spend-log store in the key store's database (same rules as ``open_key_store``)."""
    if not database_url:
        return SpendLogStore(path=str(Path(data_dir) / DEFAULT_SQLITE_FILE))
    if database_url.split(":", 1)[0].lower() in ("postgresql", "postgres"):
        return SpendLogStore(dsn=database_url)
    return SpendLogStore(path=database_url[len("sqlite:///"):])
