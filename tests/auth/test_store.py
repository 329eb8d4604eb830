"""Key stores on real databases: every test runs on SQLite and on PostgreSQL.

PostgreSQL is required: each test gets a fresh database
``gatehouse_keys_test_<random>`` (dropped afterwards) on the server at
``GATEHOUSE_TEST_POSTGRES_URL`` (default: postgres@127.0.0.1:5432). When the
server is unreachable these tests fail; they never skip.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable
from urllib.parse import urlsplit, urlunsplit

import aiosqlite
import asyncpg
import pytest

from gatehouse.auth.keys import DuplicateKeyError, KeyRecord, KeyStoreError, hash_key
from gatehouse.auth.migrations import MIGRATIONS, VERSION_TABLE, Migration, check_migrations
from gatehouse.auth.store import KeyStore, PostgresKeyStore, SQLiteKeyStore, open_key_store
from gatehouse.auth.store_postgres import redact_url
from gatehouse.config.errors import ConfigError

PG_ADMIN_URL = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"these tests need PostgreSQL, which is not reachable at {redact_url(PG_ADMIN_URL)} "
            f"({type(exc).__name__}: {exc}); start it or set GATEHOUSE_TEST_POSTGRES_URL",
            pytrace=False,
        )


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one test; its DSN."""
    name = f"gatehouse_keys_test_{secrets.token_hex(6)}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path=f"/{name}"))
    finally:
        admin = await _admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


class Backend:
    """One database of one kind; builds stores on it and closes them at the end."""

    def __init__(self, kind: str, build: Callable[..., KeyStore], location: str) -> None:
        self.kind = kind
        self.location = location
        self._build = build
        self._stores: list[KeyStore] = []

    def store(self, **kwargs: Any) -> KeyStore:
        store = self._build(**kwargs)
        self._stores.append(store)
        return store

    async def open(self, **kwargs: Any) -> KeyStore:
        store = self.store(**kwargs)
        await store.open()
        return store

    async def close_all(self) -> None:
        for store in self._stores:
            await store.close()

    async def sql(self, statement: str) -> list[tuple[Any, ...]]:
        """Run one statement on a separate connection; its rows."""
        if self.kind == "sqlite":
            async with aiosqlite.connect(self.location) as conn:
                async with conn.execute(statement) as cursor:
                    rows = [tuple(r) for r in await cursor.fetchall()]
                await conn.commit()
                return rows
        conn = await asyncpg.connect(self.location)
        try:
            return [tuple(r) for r in await conn.fetch(statement)]
        finally:
            await conn.close()

    async def versions(self) -> list[int]:
        return [row[0] for row in await self.sql(f"SELECT version FROM {VERSION_TABLE} ORDER BY version")]


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        path = str(tmp_path / "keys.db")
        b = Backend("sqlite", lambda **kw: SQLiteKeyStore(path, **kw), path)
        yield b
        await b.close_all()
        return
    async with fresh_database() as dsn:
        b = Backend("postgres", lambda **kw: PostgresKeyStore(dsn, **kw), dsn)
        try:
            yield b
        finally:
            await b.close_all()


@pytest.fixture
async def store(backend: Backend) -> KeyStore:
    return await backend.open()


def make_record(n: int = 1, **overrides: Any) -> KeyRecord:
    values: dict[str, Any] = {
        "token": hash_key(f"sk-test-{n}"),
        "key_name": f"sk-...{n:04d}",
        "key_alias": f"alias-{n}",
        "user_id": "alice",
        "team_id": "team-a",
        "team_alias": "Team A",
        "organization_id": "org-1",
        "models": ["gpt-4o", "claude"],
        "metadata": {"app": "x", "nested": {"list": [1, 2.5, None, True]}, "ünïcode": "✓"},
        "tags": ["prod"],
        "max_parallel_requests": 3,
        "rpm_limit": 60,
        "tpm_limit": 10_000_000_000,
        "max_budget": 12.5,
        "spend": 0.25,
        "expires": T0 + timedelta(days=30),
        "blocked": False,
        "created_at": T0 + timedelta(seconds=n),
        "updated_at": T0 + timedelta(seconds=n),
    }
    values.update(overrides)
    return KeyRecord(**values)


# -- the store contract, on both databases ---------------------------------


async def test_insert_then_get_returns_the_same_record(store: KeyStore) -> None:
    record = make_record()
    await store.insert(record)
    assert await store.get(record.token) == record


async def test_minimal_record_round_trips_with_defaults(store: KeyStore) -> None:
    record = KeyRecord(token=hash_key("sk-minimal"), created_at=T0, updated_at=T0)
    await store.insert(record)
    got = await store.get(record.token)
    assert got == record
    assert got is not None and got.models == [] and got.metadata == {} and got.expires is None


async def test_add_spend_accumulates_and_ignores_unknown_tokens(store: KeyStore) -> None:
    record = make_record()
    await store.insert(record)
    await store.add_spend({record.token: 0.25, hash_key("sk-nobody"): 1.0})
    await store.add_spend({record.token: 0.5})
    await store.add_spend({})
    got = await store.get(record.token)
    assert got is not None and got.spend == pytest.approx(record.spend + 0.75)
    assert await store.get(hash_key("sk-nobody")) is None


async def test_get_unknown_token_is_none(store: KeyStore) -> None:
    assert await store.get(hash_key("sk-nope")) is None


async def test_insert_duplicate_token_raises(store: KeyStore) -> None:
    await store.insert(make_record())
    with pytest.raises(DuplicateKeyError):
        await store.insert(make_record(key_alias="other"))


async def test_list_filters_counts_and_pages_newest_first(store: KeyStore) -> None:
    for n in range(1, 8):
        await store.insert(make_record(n, user_id="alice" if n % 2 else "bob", key_alias="dup" if n < 3 else None))
    page1, total = await store.list(page=1, size=3)
    assert total == 7
    assert [r.token for r in page1] == [make_record(n).token for n in (7, 6, 5)]
    page3, _ = await store.list(page=3, size=3)
    assert [r.token for r in page3] == [make_record(1).token]
    alice, total = await store.list(user_id="alice", size=100)
    assert total == 4 and {r.user_id for r in alice} == {"alice"}
    both, total = await store.list(user_id="bob", key_alias="dup")
    assert total == 1 and both[0].token == make_record(2).token
    none, total = await store.list(team_id="no-such-team")
    assert (none, total) == ([], 0)
    beyond, total = await store.list(page=9, size=3)
    assert (beyond, total) == ([], 7)


async def test_list_rejects_page_or_size_below_one(store: KeyStore) -> None:
    with pytest.raises(ValueError):
        await store.list(page=0)
    with pytest.raises(ValueError):
        await store.list(size=0)


async def test_update_sets_fields_and_updated_at(store: KeyStore) -> None:
    record = make_record()
    await store.insert(record)
    new_expiry = T0 + timedelta(days=1)
    updated = await store.update(
        record.token,
        {"models": [], "metadata": {"k": "v"}, "rpm_limit": None, "expires": new_expiry, "blocked": True},
    )
    assert updated is not None
    assert (updated.models, updated.metadata, updated.rpm_limit) == ([], {"k": "v"}, None)
    assert (updated.expires, updated.blocked) == (new_expiry, True)
    assert updated.created_at == record.created_at and updated.updated_at > record.updated_at
    assert updated.tpm_limit == record.tpm_limit and updated.key_alias == record.key_alias
    assert await store.get(record.token) == updated


async def test_update_can_clear_expiry(store: KeyStore) -> None:
    record = make_record()
    await store.insert(record)
    updated = await store.update(record.token, {"expires": None})
    assert updated is not None and updated.expires is None


async def test_update_unknown_token_is_none(store: KeyStore) -> None:
    assert await store.update(hash_key("sk-nope"), {"rpm_limit": 1}) is None


async def test_update_refuses_token_and_unknown_columns(store: KeyStore) -> None:
    record = make_record()
    await store.insert(record)
    for fields in ({"token": "x"}, {"created_at": T0}, {"rpm_limit; DROP TABLE x": 1}):
        with pytest.raises(ValueError):
            await store.update(record.token, fields)
    assert await store.get(record.token) == record


async def test_delete_returns_the_tokens_that_existed_in_given_order(store: KeyStore) -> None:
    a, b = make_record(1), make_record(2)
    await store.insert(a)
    await store.insert(b)
    missing = hash_key("sk-nope")
    assert await store.delete([b.token, missing, a.token, b.token]) == [b.token, a.token]
    assert await store.get(a.token) is None and await store.get(b.token) is None
    assert await store.delete([a.token]) == []
    assert await store.delete([]) == []


async def test_ping_is_true_when_open_and_false_when_closed(backend: Backend) -> None:
    store = await backend.open()
    assert await store.ping() is True
    await store.close()
    assert await store.ping() is False


async def test_operations_on_a_closed_store_raise_key_store_error(backend: Backend) -> None:
    store = backend.store()
    with pytest.raises(KeyStoreError):
        await store.get(hash_key("sk-x"))


# -- migrations ------------------------------------------------------------


def _extra(version: int, table: str, *, broken: bool = False) -> Migration:
    statements = (f"CREATE TABLE {table} (x INTEGER)",) + (("THIS IS NOT SQL",) if broken else ())
    return Migration(version, f"create {table}", sqlite=statements, postgres=statements)


#: The versions this Gatehouse ships, and the number an appended migration gets.
CURRENT = [m.version for m in MIGRATIONS]
NEXT = len(MIGRATIONS) + 1


async def test_reopening_is_idempotent_and_keeps_data(backend: Backend) -> None:
    first = await backend.open()
    await first.insert(make_record())
    await first.close()
    second = await backend.open()
    third = await backend.open()
    assert await third.get(make_record().token) == make_record()
    assert await backend.versions() == CURRENT
    await second.close()


async def test_concurrent_opens_migrate_once(backend: Backend) -> None:
    stores = [backend.store() for _ in range(6)]
    await asyncio.gather(*(s.open() for s in stores))
    assert await backend.versions() == CURRENT
    assert all([await s.ping() for s in stores])


async def test_appended_migration_runs_once_on_an_existing_database(backend: Backend) -> None:
    await backend.open()
    extended = (*MIGRATIONS, _extra(NEXT, "gatehouse_test_extra"))
    await backend.open(migrations=extended)
    await backend.open(migrations=extended)
    assert await backend.versions() == [*CURRENT, NEXT]
    assert await backend.sql("SELECT COUNT(*) FROM gatehouse_test_extra") == [(0,)]


async def test_failed_migration_is_rolled_back_entirely(backend: Backend) -> None:
    await backend.open()
    with pytest.raises(KeyStoreError, match="cannot migrate"):
        await backend.open(migrations=(*MIGRATIONS, _extra(NEXT, "gatehouse_test_half", broken=True)))
    assert await backend.versions() == CURRENT
    fixed = await backend.open(migrations=(*MIGRATIONS, _extra(NEXT, "gatehouse_test_half")))
    assert await backend.versions() == [*CURRENT, NEXT]
    assert await fixed.ping()


async def test_database_from_a_newer_gatehouse_is_used_with_a_warning(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    await backend.open(migrations=(*MIGRATIONS, _extra(NEXT, "gatehouse_test_newer")))
    with caplog.at_level(logging.WARNING, logger="gatehouse.auth.migrations"):
        store = await backend.open()
    assert "unknown to this Gatehouse" in caplog.text
    await store.insert(make_record())
    assert await store.get(make_record().token) is not None


def test_migration_versions_must_run_without_gaps() -> None:
    check_migrations(MIGRATIONS)
    with pytest.raises(ValueError):
        check_migrations((*MIGRATIONS, _extra(NEXT + 1, "gap")))


async def test_postgres_concurrent_opens_from_separate_pools() -> None:
    async with fresh_database() as dsn:
        stores = [PostgresKeyStore(dsn, max_size=1) for _ in range(8)]
        try:
            await asyncio.gather(*(s.open() for s in stores))
            rows = await stores[0].list()
            assert rows == ([], 0)
        finally:
            for s in stores:
                await s.close()


# -- choosing a store --------------------------------------------------------


async def test_default_store_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    store = open_key_store(None, tmp_path / "data")
    assert isinstance(store, SQLiteKeyStore)
    await store.open()
    try:
        assert (tmp_path / "data" / "gatehouse.db").is_file()
    finally:
        await store.close()


def test_database_url_schemes(tmp_path: Path) -> None:
    assert isinstance(open_key_store("", tmp_path), SQLiteKeyStore)
    assert isinstance(open_key_store("postgresql://u:p@h/db", tmp_path), PostgresKeyStore)
    assert isinstance(open_key_store("postgres://u@h:5433/db", tmp_path), PostgresKeyStore)
    sqlite = open_key_store(f"sqlite:///{tmp_path}/k.db", tmp_path)
    assert isinstance(sqlite, SQLiteKeyStore) and sqlite.path == f"{tmp_path}/k.db"


@pytest.mark.parametrize("url", ["mysql://root:hunter2@db/keys", "root:hunter2@db", "sqlite://"])
def test_unsupported_database_url_is_a_config_error_without_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_key_store(url, Path("."))
    assert info.value.key == "general_settings.database_url"
    assert "hunter2" not in str(info.value)
    assert "postgresql://" in str(info.value)


async def test_unreachable_postgres_raises_key_store_error_without_password() -> None:
    store = PostgresKeyStore("postgresql://gh:hunter2secret@127.0.0.1:1/keys")
    with pytest.raises(KeyStoreError) as info:
        await store.open()
    assert "hunter2secret" not in str(info.value)
    assert "gh:***@127.0.0.1:1" in str(info.value)
    assert "hunter2secret" not in repr(store)


def test_redact_url() -> None:
    assert redact_url("postgresql://u:pw@h:5432/db?sslmode=require") == "postgresql://u:***@h:5432/db?sslmode=require"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
