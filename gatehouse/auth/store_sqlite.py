"""The SQLite key store (the default): one aiosqlite connection per process.

JSON columns hold orjson text; datetimes hold fixed-width ISO 8601 UTC text
(``2025-01-31T12:00:00.000000+00:00``), so they sort as strings. The file is
in WAL mode with a busy timeout, so several worker processes may share it.
One asyncio lock serialises this process's use of its connection, which makes
each multi-statement write a real transaction.
"""

from __future__ import annotations

import asyncio
import builtins
import sqlite3
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

import aiosqlite
import orjson

from .keys import KEY_FIELDS, UPDATABLE_FIELDS, DuplicateKeyError, KeyRecord, KeyStoreError, as_utc, utc_now
from .migrations import KEYS_TABLE, MIGRATIONS, Migration, begin_immediate, execute_when_free, migrate_sqlite

__all__ = ["SQLiteKeyStore", "MEMORY"]

#: Pass as ``path`` for a private in-memory database (tests).
MEMORY = ":memory:"

_JSON_FIELDS = frozenset({"models", "metadata", "tags"})
_TIME_FIELDS = frozenset({"expires", "created_at", "updated_at"})
_COLUMNS = ", ".join(KEY_FIELDS)
_BUSY_TIMEOUT_MS = 5000


def _to_db(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _JSON_FIELDS:
        return orjson.dumps(value).decode()
    if name in _TIME_FIELDS:
        return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    if name == "blocked":
        return 1 if value else 0
    return value


def _from_row(row: sqlite3.Row) -> KeyRecord:
    values: dict[str, Any] = {}
    for name in KEY_FIELDS:
        value = row[name]
        if name in _JSON_FIELDS:
            value = orjson.loads(value)
        elif name in _TIME_FIELDS and value is not None:
            value = datetime.fromisoformat(value)
        elif name == "blocked":
            value = bool(value)
        values[name] = value
    return KeyRecord(**values)


class SQLiteKeyStore:
    """A :class:`~gatehouse.auth.store.KeyStore` on a SQLite file."""

    def __init__(self, path: Path | str, *, migrations: Sequence[Migration] = MIGRATIONS) -> None:
        self.path = str(path)
        self._migrations = migrations
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SQLiteKeyStore({self.path!r})"

    async def open(self) -> None:
        """Create the file (and its folder) if needed, connect, migrate."""
        if self._conn is not None:
            return
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise KeyStoreError(f"cannot open SQLite key store {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            if self.path != MEMORY:
                await execute_when_free(conn, "PRAGMA journal_mode = WAL")
            await migrate_sqlite(conn, self._migrations)
        except sqlite3.Error as exc:
            await conn.close()
            raise KeyStoreError(f"cannot migrate the key store {self.path}: {type(exc).__name__}: {exc}") from exc
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            async with self._lock:
                await conn.close()

    @asynccontextmanager
    async def _using(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, for this task alone; SQLite errors become :class:`KeyStoreError`."""
        async with self._lock:
            if self._conn is None:
                raise KeyStoreError("the key store is not open")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise KeyStoreError(f"SQLite key store error: {type(exc).__name__}: {exc}") from exc

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, inside ``BEGIN IMMEDIATE ... COMMIT`` (rolled back on error)."""
        async with self._using() as conn:
            await begin_immediate(conn)
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    async def insert(self, record: KeyRecord) -> None:
        placeholders = ", ".join("?" for _ in KEY_FIELDS)
        params = [_to_db(name, getattr(record, name)) for name in KEY_FIELDS]
        async with self._using() as conn:
            try:
                await conn.execute(f"INSERT INTO {KEYS_TABLE} ({_COLUMNS}) VALUES ({placeholders})", params)
            except sqlite3.IntegrityError as exc:
                raise DuplicateKeyError("a key with this token already exists") from exc

    async def get(self, token: str) -> KeyRecord | None:
        async with self._using() as conn:
            return await self._get(conn, token)

    async def _get(self, conn: aiosqlite.Connection, token: str) -> KeyRecord | None:
        async with conn.execute(f"SELECT {_COLUMNS} FROM {KEYS_TABLE} WHERE token = ?", (token,)) as cursor:
            row = await cursor.fetchone()
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
        where = " AND ".join(f"{name} = ?" for name in used) or "1 = 1"
        params = list(used.values())
        async with self._using() as conn:
            async with conn.execute(f"SELECT COUNT(*) FROM {KEYS_TABLE} WHERE {where}", params) as cursor:
                count = await cursor.fetchone()
            total = int(count[0]) if count is not None else 0
            query = (
                f"SELECT {_COLUMNS} FROM {KEYS_TABLE} WHERE {where} "
                "ORDER BY created_at DESC, token LIMIT ? OFFSET ?"
            )
            async with conn.execute(query, [*params, size, (page - 1) * size]) as cursor:
                rows = await cursor.fetchall()
        return [_from_row(row) for row in rows], total

    async def update(self, token: str, fields: dict[str, Any]) -> KeyRecord | None:
        unknown = set(fields) - UPDATABLE_FIELDS
        if unknown:
            raise ValueError(f"cannot update key fields {sorted(unknown)}")
        values = {"updated_at": utc_now(), **fields}
        assignments = ", ".join(f"{name} = ?" for name in values)
        params = [_to_db(name, value) for name, value in values.items()]
        async with self._transaction() as conn:
            await conn.execute(f"UPDATE {KEYS_TABLE} SET {assignments} WHERE token = ?", [*params, token])
            return await self._get(conn, token)

    async def add_spend(self, amounts: dict[str, float]) -> None:
        """Add to the ``spend`` of these tokens, atomically (unknown tokens are ignored)."""
        if not amounts:
            return
        async with self._transaction() as conn:
            await conn.executemany(f"UPDATE {KEYS_TABLE} SET spend = spend + ? WHERE token = ?",
                                   [(amount, token) for token, amount in amounts.items()])

    async def delete(self, tokens: builtins.list[str]) -> builtins.list[str]:
        wanted = list(dict.fromkeys(tokens))
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        async with self._transaction() as conn:
            async with conn.execute(f"SELECT token FROM {KEYS_TABLE} WHERE token IN ({marks})", wanted) as cursor:
                found = {row[0] for row in await cursor.fetchall()}
            await conn.execute(f"DELETE FROM {KEYS_TABLE} WHERE token IN ({marks})", wanted)
        return [token for token in wanted if token in found]

    async def ping(self) -> bool:
        try:
            async with self._using() as conn:
                async with conn.execute("SELECT 1") as cursor:
                    await cursor.fetchone()
        except KeyStoreError:
            return False
        return True
