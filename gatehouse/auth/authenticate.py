"""Who is calling: the master key, a virtual key, or nobody (open mode).

Keys come from ``Authorization: Bearer …`` or the ``x-api-key`` /
``api-key`` / ``x-litellm-api-key`` headers SDKs send. Virtual-key look-ups
are cached for ``key_cache_ttl`` seconds (misses too, briefly), so the hot
path does not reach the database on every request; key updates and deletes
made through this process drop the cached entry at once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timezone
from typing import Any, Mapping, Protocol

from ..errors import AuthenticationError, GatewayError, UpstreamUnavailableError
from .keys import KeyStoreError
from .identity import DEFAULT_USER_ID, MASTER_KEY_TOKEN, UserAPIKeyAuth

__all__ = ["Authenticator", "KeyLookup"]

NEGATIVE_TTL = 5.0
KEY_HEADERS = ("x-api-key", "api-key", "x-litellm-api-key")


class KeyLookup(Protocol):
    async def get(self, token: str) -> Any: ...


class KeyAccessError(GatewayError):
    status = 401
    type = "key_model_access_denied"


class Authenticator:
    def __init__(self, *, master_key: str | None, store: KeyLookup | None, cache_ttl: float = 30.0) -> None:
        self.master_key = master_key
        self._master_bytes = master_key.encode() if master_key else b""
        self.store = store
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, UserAPIKeyAuth | None]] = {}
        self.master = UserAPIKeyAuth(
            api_key=MASTER_KEY_TOKEN, token=MASTER_KEY_TOKEN, user_id=DEFAULT_USER_ID, user_role="proxy_admin"
        )
        self.anonymous = UserAPIKeyAuth(user_role="proxy_admin", user_id=DEFAULT_USER_ID)

    @property
    def open(self) -> bool:
        return not self.master_key

    async def authenticate(self, headers: Mapping[str, str]) -> UserAPIKeyAuth:
        """The caller's identity, or :class:`AuthenticationError` (401)."""
        if not self.master_key:
            return self.anonymous
        key = self.key_from(headers)
        if hmac.compare_digest(key.encode(), self._master_bytes):
            return self.master
        identity = await self._virtual(key)
        if identity is None:
            raise AuthenticationError("Authentication Error, Invalid proxy server token passed")
        if identity.blocked:
            raise AuthenticationError("Authentication Error, this key is blocked")
        if identity.expires is not None and identity.expires <= datetime.now(timezone.utc):
            raise AuthenticationError(
                f"Authentication Error - Expired Key. Key Expiry time {identity.expires.isoformat()}"
            )
        return identity

    @staticmethod
    def key_from(headers: Mapping[str, str]) -> str:
        value = headers.get("Authorization")
        if value is not None:
            scheme, _, key = value.strip().partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                raise AuthenticationError(
                    "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix."
                )
            return key.strip()
        for name in KEY_HEADERS:
            value = headers.get(name)
            if value:
                return value.strip()
        raise AuthenticationError("Authentication Error, No api key passed in.")

    async def _virtual(self, key: str) -> UserAPIKeyAuth | None:
        token = hashlib.sha256(key.encode()).hexdigest()
        now = time.monotonic()
        cached = self._cache.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            record = await self.store.get(token) if self.store is not None else None
        except KeyStoreError:
            raise UpstreamUnavailableError("Authentication is unavailable: the key database cannot be reached") from None
        identity = record.to_identity() if record is not None else None
        ttl = self.cache_ttl if identity is not None else min(self.cache_ttl, NEGATIVE_TTL)
        if ttl > 0:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[token] = (now + ttl, identity)
        return identity

    def forget(self, token: str) -> None:
        """Drop a cached look-up (after the key changed or was deleted)."""
        self._cache.pop(token, None)

    async def require_master(self, headers: Mapping[str, str]) -> None:
        """For admin routes: the master key, or 401."""
        if not self.master_key:
            return
        key = self.key_from(headers)
        if not hmac.compare_digest(key.encode(), self._master_bytes):
            raise AuthenticationError("Authentication Error, only the master key may manage keys")

    @staticmethod
    def check_model_access(identity: UserAPIKeyAuth, model: str | None) -> None:
        """A key's ``models`` allow-list (empty = every model)."""
        allowed = identity.models
        if not allowed or model is None or model in allowed or "all-proxy-models" in allowed or "*" in allowed:
            return
        raise KeyAccessError(
            f"Authentication Error - key not allowed to access model. This key can only access "
            f"models={allowed}. Tried to access {model}"
        )
