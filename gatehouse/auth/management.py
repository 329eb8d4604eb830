"""The operations behind ``/key/*``: validate LiteLLM-shaped requests, answer
LiteLLM-shaped responses.

::

    generate(body) -> {"key": "sk-...", "token": <hash>, ...record...}   the only time the key is shown
    info(key)      -> {"key": <hash>, "info": {...record...}}
    list(query)    -> {"keys": [<hash>...], "total_count", "current_page", "total_pages"}
    update(body)   -> {"key": <hash>, ...record...}
    delete(body)   -> {"deleted_keys": [...as given...]}

Bad input raises :class:`BadRequestError` whose ``param`` names the field;
an unknown key raises :class:`NotFoundError`. Messages never repeat a raw
key. Fields Gatehouse does not store (LiteLLM's ``budget_duration``,
``aliases``, ...) are ignored. After an update or delete, ``on_change(token)``
is called for each affected token so caches can drop it.
"""

from __future__ import annotations

import builtins
import math
import re
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Mapping

import orjson

from gatehouse.errors import BadRequestError, NotFoundError, UpstreamUnavailableError, redact_hosts

from .keys import (
    KEY_PREFIX,
    DuplicateKeyError,
    KeyRecord,
    KeyStoreError,
    abbreviate_key,
    as_utc,
    generate_key,
    hash_key,
    utc_now,
)
from .store import KeyStore

__all__ = ["KeyManager", "parse_duration", "parse_expires", "MAX_PAGE_SIZE"]

#: Largest ``size`` ``/key/list`` accepts (LiteLLM's limit).
MAX_PAGE_SIZE = 100
_DEFAULT_PAGE_SIZE = 10
_MAX_INT = 2**63 - 1
_MAX_PAGE = 2**31 - 1
_DURATION = re.compile(r"(\d+)(s|m|h|d|w)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CUSTOM_KEY = re.compile(r"sk-[\x21-\x7e]+")
_ALIAS_PAGE = 100


# -- field validation ------------------------------------------------------


def _is_text(value: Any) -> bool:
    """A string a database can store (PostgreSQL refuses NUL characters)."""
    return isinstance(value, str) and "\x00" not in value


def _optional_str(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if _is_text(value):
        return str(value)
    raise BadRequestError(f"{name} must be a string or null", param=name)


def _str_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list) and all(_is_text(item) for item in value):
        return list(value)
    raise BadRequestError(f"{name} must be a list of strings", param=name)


def _storable_json(value: Any) -> bool:
    """JSON-encodable, without NUL characters (PostgreSQL's JSONB refuses them)."""
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return False
    return "\\u0000" not in text.replace("\\\\", "")


def _json_object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict) and _storable_json(value):
        return dict(value)
    raise BadRequestError(f"{name} must be a JSON object", param=name)


def _limit(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():  # JSON's 2.0 is the integer 2
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_INT:
        return value
    raise BadRequestError(f"{name} must be an integer >= 0 or null", param=name)


def _amount(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    raise BadRequestError(f"{name} must be a number >= 0 or null", param=name)


def _spend(value: Any, name: str) -> float:
    return _amount(value, name) or 0.0


def _flag(value: Any, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    raise BadRequestError(f"{name} must be true or false", param=name)


#: Request field -> validator returning the stored value. Order is irrelevant.
_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "key_alias": _optional_str,
    "user_id": _optional_str,
    "team_id": _optional_str,
    "team_alias": _optional_str,
    "organization_id": _optional_str,
    "models": _str_list,
    "metadata": _json_object,
    "tags": _str_list,
    "max_parallel_requests": _limit,
    "rpm_limit": _limit,
    "tpm_limit": _limit,
    "max_budget": _amount,
    "spend": _spend,
    "blocked": _flag,
}


def parse_duration(value: Any) -> timedelta | None:
    """``"30s"``, ``"10m"``, ``"1h"``, ``"7d"``, ``"2w"`` as a timedelta;
    ``None`` or ``"-1"`` mean "never expires" (``None``)."""
    if value is None or value == "-1":
        return None
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise BadRequestError(
            "duration must look like 30s, 10m, 1h, 7d or 2w (or -1 for no expiry)", param="duration"
        )
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_expires(value: Any) -> datetime | None:
    """An ISO 8601 date-time (naive means UTC) as an aware UTC datetime."""
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        raise BadRequestError("expires must be an ISO 8601 date-time or null", param="expires") from None


def _expiry(body: Mapping[str, Any], now: datetime) -> dict[str, datetime | None]:
    """``{"expires": ...}`` from ``duration`` or ``expires``, or ``{}`` if neither is given."""
    if "duration" in body and "expires" in body:
        raise BadRequestError("give either duration or expires, not both", param="duration")
    if "duration" in body:
        delta = parse_duration(body["duration"])
        try:
            return {"expires": now + delta if delta is not None else None}
        except OverflowError:
            raise BadRequestError("duration is too long", param="duration") from None
    if "expires" in body:
        return {"expires": parse_expires(body["expires"])}
    return {}


def _record_fields(body: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The stored fields present in ``body``, validated."""
    fields = {name: check(body[name], name) for name, check in _FIELDS.items() if name in body}
    fields.update(_expiry(body, now))
    return fields


def _required_key(body: Mapping[str, Any]) -> str:
    key = body.get("key")
    if not isinstance(key, str) or not key:
        raise BadRequestError("key is required: the key or its hash", param="key")
    return key


def _page_number(query: Mapping[str, Any], name: str, default: int, maximum: int) -> int:
    raw = query.get(name, default)
    try:
        value = int(raw) if not isinstance(raw, bool) else -1
    except (TypeError, ValueError):
        value = -1
    if not 1 <= value <= maximum:
        raise BadRequestError(f"{name} must be an integer from 1 to {maximum}", param=name)
    return value


def _query_flag(query: Mapping[str, Any], name: str) -> bool:
    raw = query.get(name, False)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "1", "false", "0", ""):
        return raw.lower() in ("true", "1")
    raise BadRequestError(f"{name} must be true or false", param=name)


@contextmanager
def _store_errors() -> Iterator[None]:
    """A failing database answers 503 (host names removed from the message)."""
    try:
        yield
    except DuplicateKeyError:
        raise BadRequestError("a key with this value already exists", param="key") from None
    except KeyStoreError as exc:
        raise UpstreamUnavailableError(f"key store unavailable: {redact_hosts(str(exc))}") from exc


# -- operations ------------------------------------------------------------


class KeyManager:
    """Key management on top of a :class:`KeyStore` (authorization is the caller's job)."""

    def __init__(self, store: KeyStore, *, on_change: Callable[[str], None] | None = None) -> None:
        self._store = store
        self._on_change = on_change

    def _changed(self, tokens: builtins.list[str]) -> None:
        if self._on_change is not None:
            for token in tokens:
                self._on_change(token)

    async def generate(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a key; the answer holds the raw key (shown this once)."""
        key = body.get("key")
        if key is None:
            key = generate_key()
        elif not isinstance(key, str) or _CUSTOM_KEY.fullmatch(key) is None:
            raise BadRequestError(f"key must be a string starting with {KEY_PREFIX!r}, without spaces", param="key")
        now = utc_now()
        record = KeyRecord(token=hash_key(key), key_name=abbreviate_key(key), created_at=now, updated_at=now)
        for name, value in _record_fields(body, now).items():
            setattr(record, name, value)
        with _store_errors():
            await self._store.insert(record)
        return {"key": key, **record.to_json(), "token_id": record.token}

    async def info(self, key_or_hash: Any) -> dict[str, Any]:
        """The record of a key given raw or by hash (never the raw key)."""
        if not isinstance(key_or_hash, str) or not key_or_hash:
            raise BadRequestError("key is required: the key or its hash", param="key")
        token = hash_key(key_or_hash)
        with _store_errors():
            record = await self._store.get(token)
        if record is None:
            raise NotFoundError("Key not found: no key matches the given key or hash", param="key")
        return {"key": token, "info": record.to_json()}

    async def list(self, query: Mapping[str, Any]) -> dict[str, Any]:
        """A page of keys (hashes, or full objects with ``return_full_object``)."""
        page = _page_number(query, "page", 1, _MAX_PAGE)
        size = _page_number(query, "size", _DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        full = _query_flag(query, "return_full_object")
        filters = {name: query.get(name) or None for name in ("user_id", "team_id", "key_alias")}
        for name, value in filters.items():
            _optional_str(value, name)
        with _store_errors():
            records, total = await self._store.list(**filters, page=page, size=size)
        return {
            "keys": [r.to_json() if full else r.token for r in records],
            "total_count": total,
            "current_page": page,
            "total_pages": -(-total // size),
        }

    async def update(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Change the given fields of one key; the updated record."""
        token = hash_key(_required_key(body))
        fields = _record_fields(body, utc_now())
        with _store_errors():
            record = await self._store.update(token, fields)
        if record is None:
            raise NotFoundError("Key not found: no key matches the given key or hash", param="key")
        self._changed([token])
        return {"key": token, **record.to_json()}

    async def set_blocked(self, body: Mapping[str, Any], blocked: bool) -> dict[str, Any]:
        """``/key/block`` and ``/key/unblock``: ``{"key": ...}`` (raw key or hash)."""
        return await self.update({"key": _required_key(body), "blocked": blocked})

    async def delete(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Delete keys given raw, by hash (``keys``) or by alias (``key_aliases``)."""
        keys = _str_list(body.get("keys"), "keys")
        aliases = _str_list(body.get("key_aliases"), "key_aliases")
        if not keys and not aliases:
            raise BadRequestError("keys (or key_aliases) must be a non-empty list of strings", param="keys")
        given = {key: [hash_key(key)] for key in keys}
        with _store_errors():
            for alias in aliases:
                given[alias] = await self._alias_tokens(alias)
            deleted = set(await self._store.delete([t for tokens in given.values() for t in tokens]))
        if not deleted:
            raise NotFoundError("None of the given keys exist", param="keys")
        self._changed(sorted(deleted))
        return {"deleted_keys": [name for name, tokens in given.items() if deleted.intersection(tokens)]}

    async def _alias_tokens(self, alias: str) -> builtins.list[str]:
        tokens: builtins.list[str] = []
        page = 1
        while True:
            records, total = await self._store.list(key_alias=alias, page=page, size=_ALIAS_PAGE)
            tokens.extend(r.token for r in records)
            if not records or len(tokens) >= total:
                return tokens
            page += 1
