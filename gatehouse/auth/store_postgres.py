"""The PostgreSQL key store: an asyncpg pool (1 to 5 connections by default).

Every operation has a deadline: ``connect_timeout`` to connect (or to wait
for a pooled connection) plus ``query_timeout`` for the statement
(``general_settings.database_connection_timeout`` / ``database_query_timeout``,
5 s each). A database that hangs (stopped, not down) is then a
:class:`KeyStoreError` after that time, like one that is down.

JSON columns are ``JSONB`` (encoded and decoded with orjson by a codec set on
every pooled connection); datetimes are ``TIMESTAMPTZ``. Each operation is
one statement, so each is atomic without an explicit transaction.

The DSN may hold a password: it is kept only to connect, and every message
shows it through :func:`redact_url`.
"""

from __future__ import annotations

import asyncio
import builtins
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

from .keys import KEY_FIELDS, UPDATABLE_FIELDS, DuplicateKeyError, KeyRecord, KeyStoreError, utc_now
from .migrations import KEYS_TABLE, MIGRATIONS, Migration, migrate_postgres

__all__ = ["PostgresKeyStore", "redact_url"]

_COLUMNS = ", ".join(KEY_FIELDS)
#: What connecting may raise: network errors, server refusals, timeouts.
_CONNECT_ERRORS = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
#: What a malformed DSN raises, on top of the above.
_DSN_ERRORS = (ValueError, asyncpg.ClientConfigurationError)


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable database URL>"
    if not password:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


def _from_row(row: asyncpg.Record) -> KeyRecord:
    return KeyRecord(**{name: row[name] for name in KEY_FIELDS})


class PostgresKeyStore:
    """A :class:`~gatehouse.auth.store.KeyStore` on PostgreSQL."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 5,
        migrations: Sequence[Migration] = MIGRATIONS,
        connect_timeout: float = 5.0,
        query_timeout: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._connect_timeout = connect_timeout
        self._query_timeout = query_timeout
        self._migrations = migrations
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        return f"PostgresKeyStore({redact_url(self._dsn)!r})"

    async def open(self) -> None:
        """Create the pool and migrate; :class:`KeyStoreError` if unreachable."""
        if self._pool is not None:
            return
        try:
            pool = await asyncpg.create_pool(
                self._dsn, min_size=self._min_size, max_size=self._max_size, init=_init_connection,
                timeout=self._connect_timeout, command_timeout=self._query_timeout,
            )
        except (*_CONNECT_ERRORS, *_DSN_ERRORS) as exc:
            raise self._connect_error(exc) from None
        try:
            async with pool.acquire() as conn:
                await migrate_postgres(conn, self._migrations)
        except _CONNECT_ERRORS as exc:
            await pool.close()
            raise KeyStoreError(
                f"cannot migrate the key store at {redact_url(self._dsn)}: {type(exc).__name__}: {exc}"
            ) from exc
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    def _connect_error(self, exc: BaseException) -> KeyStoreError:
        """A clean error for a failed connect; the password never appears in it."""
        detail = f"{type(exc).__name__}: {exc}"
        password = _password(self._dsn)
        if password:
            detail = detail.replace(password, "***")
        return KeyStoreError(f"cannot connect to PostgreSQL at {redact_url(self._dsn)}: {detail}")

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def _using(self) -> AsyncIterator[asyncpg.Pool]:
        """The pool; database and connection errors become :class:`KeyStoreError`."""
        if self._pool is None:
            raise KeyStoreError("the key store is not open")
        try:
            async with asyncio.timeout(self._connect_timeout + self._query_timeout):
                yield self._pool
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateKeyError("a key with this token already exists") from exc
        except _CONNECT_ERRORS as exc:
            raise KeyStoreError(f"PostgreSQL key store error: {type(exc).__name__}: {exc}") from exc

    async def insert(self, record: KeyRecord) -> None:
        marks = ", ".join(f"${i}" for i in range(1, len(KEY_FIELDS) + 1))
        params = [getattr(record, name) for name in KEY_FIELDS]
        async with self._using() as pool:
            await pool.execute(f"INSERT INTO {KEYS_TABLE} ({_COLUMNS}) VALUES ({marks})", *params)

    async def get(self, token: str) -> KeyRecord | None:
        async with self._using() as pool:
            row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM {KEYS_TABLE} WHERE token = $1", token)
        return _from_row(row) if row is not None else None

    async def list(
        self,
        *,
        user_id: str | None = None,
        team_id: str | None = None,
        key_alias: str | None = None,
        page: int = 1,
        size: int = 100,
    ) -> tuple[list[KeyRecord], int]:
        if page < 1 or size < 1:
            raise ValueError("page and size must be at least 1")
        filters = {"user_id": user_id, "team_id": team_id, "key_alias": key_alias}
        used = {name: value for name, value in filters.items() if value is not None}
        where = " AND ".join(f"{name} = ${i}" for i, name in enumerate(used, start=1)) or "TRUE"
        params = list(used.values())
        n = len(params)
        query = (
            f"SELECT {_COLUMNS} FROM {KEYS_TABLE} WHERE {where} "
            f"ORDER BY created_at DESC, token LIMIT ${n + 1} OFFSET ${n + 2}"
        )
        async with self._using() as pool:
            total = await pool.fetchval(f"SELECT COUNT(*) FROM {KEYS_TABLE} WHERE {where}", *params)
            rows = await pool.fetch(query, *params, size, (page - 1) * size)
        return [_from_row(row) for row in rows], int(total)

    async def update(self, token: str, fields: dict[str, Any]) -> KeyRecord | None:
        unknown = set(fields) - UPDATABLE_FIELDS
        if unknown:
            raise ValueError(f"cannot update key fields {sorted(unknown)}")
        values = {"updated_at": utc_now(), **fields}
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(values, start=2))
        query = f"UPDATE {KEYS_TABLE} SET {assignments} WHERE token = $1 RETURNING {_COLUMNS}"
        async with self._using() as pool:
            row = await pool.fetchrow(query, token, *values.values())
        return _from_row(row) if row is not None else None

    async def add_spend(self, amounts: dict[str, float]) -> None:
        """Add to the ``spend`` of these tokens, atomically (unknown tokens are ignored)."""
        if not amounts:
            return
        async with self._using() as pool:
            await pool.executemany(f"UPDATE {KEYS_TABLE} SET spend = spend + $1 WHERE token = $2",
                                   [(amount, token) for token, amount in amounts.items()])

    async def delete(self, tokens: builtins.list[str]) -> builtins.list[str]:
        wanted = list(dict.fromkeys(tokens))
        if not wanted:
            return []
        async with self._using() as pool:
            rows = await pool.fetch(f"DELETE FROM {KEYS_TABLE} WHERE token = ANY($1::text[]) RETURNING token", wanted)
        found = {row["token"] for row in rows}
        return [token for token in wanted if token in found]

    async def ping(self) -> bool:
        try:
            async with self._using() as pool:
                await pool.fetchval("SELECT 1")
        except KeyStoreError:
            return False
        return True
