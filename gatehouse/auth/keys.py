"""Virtual keys: the stored record, and how keys are made and hashed.

A virtual key is shown to its owner once, at ``/key/generate``; Gatehouse
stores only its SHA-256 hex digest (the *token*). Every look-up, every
management call and every log line uses the token, never the key::

    key   = generate_key()          # "sk-..." (shown once)
    token = hash_key(key)           # 64 hex chars (stored, logged, cached)
    hash_key(token) == token        # admins may address keys by their hash

:class:`KeyRecord` is one row of ``gatehouse_verification_tokens``; the
store errors below are what every :class:`~gatehouse.auth.store.KeyStore`
raises, whatever its database.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .identity import UserAPIKeyAuth

__all__ = [
    "KEY_PREFIX",
    "KeyRecord",
    "KEY_FIELDS",
    "UPDATABLE_FIELDS",
    "KeyStoreError",
    "DuplicateKeyError",
    "generate_key",
    "hash_key",
    "is_key_hash",
    "abbreviate_key",
    "utc_now",
    "as_utc",
]

#: Every virtual key starts with this (LiteLLM's convention).
KEY_PREFIX = "sk-"

_HASH = re.compile(r"[0-9a-f]{64}")


class KeyStoreError(Exception):
    """The key store cannot do its job (unreachable, bad schema).

    Messages never contain the password of a database URL.
    """


class DuplicateKeyError(KeyStoreError):
    """A record with the same token already exists."""


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def generate_key() -> str:
    """A new random virtual key: ``"sk-"`` + 43 URL-safe characters (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def is_key_hash(value: str) -> bool:
    """Whether ``value`` already is a token (64 lower-case hex characters)."""
    return _HASH.fullmatch(value) is not None


def hash_key(key: str) -> str:
    """The token of ``key``: its SHA-256 hex digest.

    A value that already is a token is returned unchanged, so a key can be
    addressed by its raw value or by its hash alike.
    """
    if is_key_hash(key):
        return key
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def abbreviate_key(key: str) -> str:
    """The display name LiteLLM stores as ``key_name``: ``"sk-...abcd"``."""
    return f"{KEY_PREFIX}...{key[-4:]}"


@dataclass(slots=True)
class KeyRecord:
    """One virtual key as stored. ``token`` is the key's hash, never the key.

    Datetimes are timezone-aware UTC. ``models`` empty means "every model";
    ``expires`` ``None`` means "never expires".
    """

    token: str
    key_name: str | None = None
    key_alias: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    team_alias: str | None = None
    organization_id: str | None = None
    models: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    max_parallel_requests: int | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_budget: float | None = None
    spend: float = 0.0
    expires: datetime | None = None
    blocked: bool = False
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)

    def is_expired(self, now: datetime | None = None) -> bool:
        """Whether the key has expired at ``now`` (default: the current time)."""
        if self.expires is None:
            return False
        return as_utc(now or utc_now()) >= as_utc(self.expires)

    def to_identity(self) -> UserAPIKeyAuth:
        """The caller's identity hooks receive (``api_key`` = ``token`` = hash)."""
        return UserAPIKeyAuth(
            api_key=self.token,
            token=self.token,
            key_name=self.key_name,
            key_alias=self.key_alias,
            user_id=self.user_id,
            team_id=self.team_id,
            team_alias=self.team_alias,
            org_id=self.organization_id,
            organization_id=self.organization_id,
            models=list(self.models),
            metadata=dict(self.metadata),
            tags=list(self.tags),
            max_parallel_requests=self.max_parallel_requests,
            rpm_limit=self.rpm_limit,
            tpm_limit=self.tpm_limit,
            max_budget=self.max_budget,
            spend=self.spend,
            expires=self.expires,
            blocked=self.blocked,
        )

    def to_json(self) -> dict[str, Any]:
        """Every field as JSON-ready values (datetimes as ISO 8601 strings)."""
        out: dict[str, Any] = {}
        for name in KEY_FIELDS:
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = as_utc(value).isoformat()
            elif isinstance(value, (list, dict)):
                value = value.copy()
            out[name] = value
        return out


#: Column names of ``gatehouse_verification_tokens``, in table order.
KEY_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(KeyRecord))
#: The columns ``KeyStore.update`` may change (never the token or creation time).
UPDATABLE_FIELDS: frozenset[str] = frozenset(KEY_FIELDS) - {"token", "created_at"}
