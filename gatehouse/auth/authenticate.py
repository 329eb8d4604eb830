"""Who is calling: the master key, a JWT, the operator's custom auth, a virtual key, or nobody.

Keys come from ``Authorization: Bearer …`` or the ``x-api-key`` /
``api-key`` / ``x-litellm-api-key`` headers SDKs send. In order:

1. no master key, no JWT auth, no custom auth: open mode (everyone is admin);
2. the master key (constant-time compare) is the admin, whatever else is on;
3. ``custom_auth`` set: the function decides for every other request
   (:mod:`gatehouse.auth.custom_auth`);
4. ``enable_jwt_auth`` and a token shaped like a JWT: verified
   (:mod:`gatehouse.auth.jwt_auth`);
5. otherwise a virtual key from the key store.

Whatever identity results, a ``blocked`` or expired one is refused. Virtual-key
look-ups are cached for ``key_cache_ttl`` seconds (misses too, briefly), so
the hot path does not reach the database on every request; key updates and
deletes made through this process drop the cached entry at once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timezone
from typing import Any, Mapping, Protocol

from ..errors import AuthenticationError, GatewayError, UpstreamUnavailableError
from .custom_auth import URL, AuthRequest, CustomAuth
from .identity import DEFAULT_USER_ID, MASTER_KEY_TOKEN, UserAPIKeyAuth
from .jwt_auth import JWTAuthenticator
from .keys import KeyStoreError

__all__ = ["Authenticator", "KeyLookup"]

NEGATIVE_TTL = 5.0
KEY_HEADERS = ("x-api-key", "api-key", "x-litellm-api-key")


class KeyLookup(Protocol):
    async def get(self, token: str) -> Any: ...


class KeyAccessError(GatewayError):
    status = 403
    type = "key_model_access_denied"


ADMIN_ROLE = "proxy_admin"


class Authenticator:
    def __init__(self, *, master_key: str | None, store: KeyLookup | None, cache_ttl: float = 30.0,
                 jwt: JWTAuthenticator | None = None, custom: CustomAuth | None = None) -> None:
        self.master_key = master_key
        self.jwt = jwt
        self.custom = custom
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
        return not self.master_key and self.jwt is None and self.custom is None

    def describe(self) -> str:
        """How callers are authenticated (for the start-up log and check-config)."""
        if self.open:
            return "open (no master key): every request is accepted"
        parts = ["master key"] if self.master_key else []
        parts += ["custom_auth"] if self.custom is not None else []
        parts += ["JWT"] if self.jwt is not None else []
        return " + ".join(parts + ["virtual keys"])

    async def authenticate(self, headers: Mapping[str, str], *, route: str = "", request: Any = None) -> UserAPIKeyAuth:
        """The caller's identity, or an error (401, 403 for a route a JWT role may not call, 503)."""
        if self.open:
            return self.anonymous
        key = self._presented(headers) if self.custom is not None else self.key_from(headers)
        if self._master_bytes and hmac.compare_digest(key.encode(), self._master_bytes):
            return self.master
        if self.custom is not None:
            identity = await self.custom.authenticate(_auth_request(request, headers, route), key)
        elif self.jwt is not None and self.jwt.looks_like_jwt(key):
            identity = await self.jwt.authenticate(key, route)
        else:
            found = await self._virtual(key)
            if found is None:
                raise AuthenticationError("Authentication Error, Invalid proxy server token passed")
            identity = found
        return self._usable(identity)

    @staticmethod
    def _usable(identity: UserAPIKeyAuth) -> UserAPIKeyAuth:
        """Refuse a blocked or expired identity (virtual key or custom auth alike)."""
        if identity.blocked:
            raise AuthenticationError("Authentication Error, this key is blocked")
        if identity.expires is not None and identity.expires <= datetime.now(timezone.utc):
            raise AuthenticationError(
                f"Authentication Error - Expired Key. Key Expiry time {identity.expires.isoformat()}"
            )
        return identity

    @staticmethod
    def _presented(headers: Mapping[str, str]) -> str:
        """The key as custom auth receives it: after any scheme, ``""`` when none was sent."""
        value = headers.get("Authorization")
        if value is not None:
            scheme, _, key = value.strip().partition(" ")
            return key.strip() if key else scheme
        for name in KEY_HEADERS:
            if headers.get(name):
                return headers[name].strip()
        return ""

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

    async def require_admin(self, request: Any) -> UserAPIKeyAuth:
        """For admin routes: the master key, or an admin identity (JWT admin scope, custom auth's
        ``user_role: proxy_admin``); 401 otherwise."""
        if self.open:
            return self.anonymous
        try:
            identity = await self.authenticate(request.headers, route=request.path, request=request)
        except AuthenticationError:
            raise AuthenticationError("Authentication Error, only the master key may manage keys") from None
        if identity.user_role != ADMIN_ROLE:
            raise AuthenticationError("Authentication Error, only the master key may manage keys")
        return identity

    async def close(self) -> None:
        if self.jwt is not None:
            await self.jwt.close()

    @staticmethod
    def check_model_access(identity: UserAPIKeyAuth, model: str | None) -> None:
        """A key's ``models`` allow-list (empty = every model)."""
        allowed = identity.models
        if not allowed or model is None or model in allowed or "all-proxy-models" in allowed or "*" in allowed:
            return
        raise KeyAccessError(
            f"The requested model '{model}' is not available for this API key, or the model name is invalid. "
            "Check the models available to you and try again.", param="model",
        )


def _auth_request(request: Any, headers: Mapping[str, str], route: str) -> AuthRequest:
    """The ``request`` a custom auth function gets, from whatever the server passed."""
    inner = getattr(request, "request", request)  # the flow passes its Inbound, admin routes the aiohttp request
    if inner is not None and hasattr(inner, "transport") and hasattr(inner, "read"):
        return AuthRequest.from_aiohttp(inner)

    async def no_body() -> bytes:
        return b""

    url = URL(scheme="http", host=headers.get("host", ""), path=route, query="")
    return AuthRequest(method="POST", url=url, headers=headers, query_params={}, client=None, read_body=no_body)
