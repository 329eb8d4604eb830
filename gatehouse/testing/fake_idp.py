"""A fake OpenID identity provider: a JWKS endpoint and tokens signed with its key.

For testing ``enable_jwt_auth`` without a real provider (needs ``gatehouse[jwt]``)::

    idp = FakeIdP(issuer="https://idp.test", audience="gatehouse")
    idp.start_in_thread()                   # serves /jwks.json and /.well-known/openid-configuration
    token = idp.token(sub="alice", scope="litellm_proxy_admin")
    expired = idp.token(sub="alice", expires_in=-60)
    idp.rotate()                            # a new signing key (new kid); old tokens stop verifying

``jwks_url`` and ``discovery_url`` point a gateway at it; ``fetches`` counts
JWKS requests (to see caching), ``down = True`` makes it answer 503.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from aiohttp import web

from .service import ThreadedService

__all__ = ["FakeIdP"]


class FakeIdP(ThreadedService):
    thread_name = "fake-idp"

    def __init__(self, *, issuer: str = "https://idp.gatehouse.test", audience: str = "gatehouse") -> None:
        self.issuer = issuer
        self.audience = audience
        self.url = ""
        self.fetches = 0
        self.down = False
        self._runner: web.AppRunner | None = None
        self.rotate()

    def rotate(self) -> None:
        """A new RSA signing key with a new ``kid``; the JWKS serves only the new key."""
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:12]

    def jwks(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        jwk = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update(kid=self.kid, use="sig", alg="RS256")
        return {"keys": [jwk]}

    def token(self, *, expires_in: float = 300, audience: str | None = None, issuer: str | None = None,
              key: Any = None, kid: str | None = None, algorithm: str = "RS256", **claims: Any) -> str:
        """A signed token; ``audience``/``issuer`` override the IdP's, ``key``/``kid`` sign with another key."""
        import jwt

        now = int(time.time())
        payload = {"iss": issuer or self.issuer, "aud": audience or self.audience, "iat": now,
                   "exp": now + int(expires_in), **claims}
        signing: Any = None if algorithm == "none" else (self.private_key if key is None else key)
        return jwt.encode(payload, signing, algorithm=algorithm,
                          headers={"kid": kid or self.kid})

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks.json"

    @property
    def discovery_url(self) -> str:
        return self.url + "/.well-known/openid-configuration"

    async def _jwks(self, request: web.Request) -> web.Response:
        self.fetches += 1
        if self.down:
            return web.Response(status=503, text="down")
        return web.json_response(self.jwks())

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": self.issuer, "jwks_uri": self.jwks_url})

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_get("/jwks.json", self._jwks)
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
