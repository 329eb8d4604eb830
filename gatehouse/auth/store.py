"""Where virtual keys live: the :class:`KeyStore` protocol and how one is chosen.

::

    open_key_store(None, data_dir)                      SQLite at data_dir/gatehouse.db
    open_key_store("sqlite:////var/lib/gh/keys.db", _)   SQLite at /var/lib/gh/keys.db
    open_key_store("postgresql://user:pw@host/db", _)    PostgreSQL (asyncpg pool)

``open_key_store`` only chooses and builds: nothing is touched until the
composition root awaits ``store.open()`` (connect + migrate) after the event
loop starts, and ``store.close()`` at shutdown. Implementations:
:class:`~gatehouse.auth.store_sqlite.SQLiteKeyStore`,
:class:`~gatehouse.auth.store_postgres.PostgresKeyStore`; the schema is in
:mod:`gatehouse.auth.migrations`.
"""

from __future__ import annotations

import builtins
import re
from pathlib import Path
from typing import Any, Protocol

from gatehouse.config.errors import ConfigError

from .keys import DuplicateKeyError, KeyRecord, KeyStoreError
from .store_postgres import PostgresKeyStore
from .store_sqlite import SQLiteKeyStore

__all__ = [
    "KeyStore",
    "KeyStoreError",
    "DuplicateKeyError",
    "SQLiteKeyStore",
    "PostgresKeyStore",
    "open_key_store",
    "DEFAULT_SQLITE_FILE",
]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")

#: The SQLite file, inside ``data_dir``, used when no database URL is set.
DEFAULT_SQLITE_FILE = "gatehouse.db"


class KeyStore(Protocol):
    """Storage of :class:`KeyRecord` rows, addressed by token (the key's hash).

    Every method but ``open`` needs an open store; ``ping`` never raises.
    Operations raise :class:`KeyStoreError` when the database fails.
    """

    async def open(self) -> None:
        """Connect and apply pending migrations (idempotent, safe across processes)."""

    async def close(self) -> None:
        """Release connections; the store may not be used afterwards."""

    async def insert(self, record: KeyRecord) -> None:
        """Add a record; :class:`DuplicateKeyError` if its token exists."""

    async def get(self, token: str) -> KeyRecord | None:
        """The record with this token, or ``None``."""

    async def list(
        self,
        *,
        user_id: str | None = None,
        team_id: str | None = None,
        key_alias: str | None = None,
        page: int = 1,
        size: int = 100,
    ) -> tuple[builtins.list[KeyRecord], int]:
        """One page (1-based) of the records matching every given filter,
        newest first, and how many match in all. ``ValueError`` if
        ``page`` or ``size`` is below 1."""

    async def update(self, token: str, fields: dict[str, Any]) -> KeyRecord | None:
        """Set ``fields`` (names from ``UPDATABLE_FIELDS``, typed values) and
        ``updated_at``; the updated record, or ``None`` if there is no such
        token. ``ValueError`` on a field that cannot be updated."""

    async def delete(self, tokens: builtins.list[str]) -> builtins.list[str]:
        """Delete these tokens; the ones that existed, in the order given."""

    async def add_spend(self, amounts: dict[str, float]) -> None:
        """Add each amount (USD) to its token's ``spend``, atomically; unknown tokens are ignored."""

    async def ping(self) -> bool:
        """Whether the database answers (for health checks)."""


def open_key_store(database_url: str | None, data_dir: Path, *, pool_max_size: int = 5,
                   connect_timeout: float = 5.0, query_timeout: float = 5.0) -> KeyStore:
    """The store for ``general_settings.database_url`` (or ``DATABASE_URL``).

    ``None`` or empty: SQLite at ``data_dir/gatehouse.db``. ``postgresql://``
    or ``postgres://``: PostgreSQL with a pool of 1 to ``pool_max_size``
    connections. ``sqlite:///<path>``: SQLite at ``<path>`` (SQLAlchemy's
    spelling: ``sqlite:////abs/file.db`` is absolute, ``sqlite:///rel.db``
    relative to the working directory, ``sqlite:///:memory:`` in memory).
    Anything else raises :class:`ConfigError`, which names the scheme only.
    ``connect_timeout`` / ``query_timeout``: PostgreSQL's deadlines (seconds).
    """
    if not database_url:
        return SQLiteKeyStore(Path(data_dir) / DEFAULT_SQLITE_FILE)
    scheme = database_url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        return PostgresKeyStore(database_url, max_size=pool_max_size, connect_timeout=connect_timeout,
                                query_timeout=query_timeout)
    if database_url.startswith("sqlite:///") and len(database_url) > len("sqlite:///"):
        return SQLiteKeyStore(database_url[len("sqlite:///") :])
    raise ConfigError(_unsupported(database_url), key="general_settings.database_url")


def _unsupported(database_url: str) -> str:
    """The problem with ``database_url``, naming its scheme, never its contents."""
    match = _SCHEME.match(database_url)
    what = f"unsupported database_url scheme {match.group(1)!r}" if match else "database_url is not a URL"
    return f"{what}: use postgresql://..., postgres://... or sqlite:///<path>"
