"""The identity provider's signing keys: fetched with PyJWT's JWKS client, cached, refreshed.

The hot path is a dictionary look-up (``kid`` → key). The key set is fetched

* at the first token (start-up does not depend on the identity provider),
* again when ``public_key_ttl`` has passed (in the background of the request
  that notices: the known keys keep answering meanwhile),
* at once when a token names a ``kid`` that is not known (key rotation), at
  most once per :data:`MIN_REFETCH` seconds, so tokens with made-up ``kid``
  values cannot make Gatehouse hammer the identity provider.

PyJWT's client is synchronous, so fetches run in a worker thread, one at a
time. A URL ending in ``.well-known/openid-configuration`` is an OIDC
discovery document whose ``jwks_uri`` is used. When the provider cannot be
reached and no key is known, requests get 503 (fail closed); keys fetched
before keep working through an outage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from typing import Any

from ..errors import AuthenticationError, UpstreamUnavailableError

__all__ = ["JWKSCache", "MIN_REFETCH"]

log = logging.getLogger("gatehouse.auth")

MIN_REFETCH = 1.0
FETCH_TIMEOUT = 5.0


class JWKSCache:
    def __init__(self, urls: tuple[str, ...], *, ttl: float, timeout: float = FETCH_TIMEOUT) -> None:
        import jwt  # the optional dependency; checked at start-up by the caller

        self._jwt = jwt
        self.urls = urls
        self.ttl = ttl
        self.timeout = timeout
        self._keys: dict[str | None, Any] = {}
        self._fetched_at = 0.0
        self._tried_at = -MIN_REFETCH
        self._lock = asyncio.Lock()
        self._refresh: asyncio.Task[None] | None = None

    async def key_for(self, kid: str | None) -> Any:
        """The ``PyJWK`` that signed a token with this ``kid`` (any single key when ``kid`` is absent)."""
        now = time.monotonic()
        key = self._pick(kid)
        if key is not None:
            if now - self._fetched_at > self.ttl and self._refresh is None:
                self._refresh = asyncio.get_running_loop().create_task(self._background_refresh())
            return key
        if now - self._tried_at >= MIN_REFETCH:
            await self._fetch(force=False)
            key = self._pick(kid)
        if key is None:
            if not self._keys:
                raise UpstreamUnavailableError("Service Unavailable: the identity provider's signing keys could not "
                                               "be fetched, so the token cannot be verified; retry shortly")
            raise AuthenticationError("Authentication Error, Validation fails: no signing key matches the "
                                      "token's kid")
        return key

    def _pick(self, kid: str | None) -> Any:
        if kid is None:
            keys = {id(k): k for k in self._keys.values()}
            return next(iter(keys.values())) if len(keys) == 1 else None
        return self._keys.get(kid)

    async def _background_refresh(self) -> None:
        try:
            await self._fetch(force=True)
        finally:
            self._refresh = None

    async def _fetch(self, *, force: bool) -> None:
        async with self._lock:  # single flight: whoever waited finds the keys fetched
            if not force and time.monotonic() - self._tried_at < MIN_REFETCH:
                return
            self._tried_at = time.monotonic()
            try:
                keys = await asyncio.to_thread(self._fetch_all)
            except Exception as exc:  # unreachable, bad JSON, no usable key: keep what we have
                log.warning("JWKS fetch failed (%d key(s) still in use): %s", len(self._keys),
                            type(exc).__name__ + (f": {exc}" if str(exc) else ""))
                return
            self._keys = keys
            self._fetched_at = time.monotonic()
            log.info("JWKS: %d signing key(s) loaded from %d URL(s)", len(keys), len(self.urls))

    def _fetch_all(self) -> dict[str | None, Any]:
        keys: dict[str | None, Any] = {}
        for url in self.urls:
            client = self._jwt.PyJWKClient(self._jwks_uri(url), cache_keys=False, cache_jwk_set=False,
                                           timeout=int(max(1, self.timeout)))
            for key in client.get_signing_keys():
                keys[key.key_id] = key
        return keys

    def _jwks_uri(self, url: str) -> str:
        if ".well-known/openid-configuration" not in url:
            return url
        with urllib.request.urlopen(url, timeout=self.timeout) as resp:  # noqa: S310 (configured http(s) URL)
            document = json.load(resp)
        uri = document.get("jwks_uri") if isinstance(document, dict) else None
        if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
            raise ValueError("the OIDC discovery document has no jwks_uri")
        return uri

    async def close(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None
