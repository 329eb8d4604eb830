"""A fake Microsoft Entra ID authority (HTTPS): OAuth2 client-credentials tokens and the metadata clients read.

Serves what ``azure-identity`` asks a real authority
(``https://login.microsoftonline.com``) for::

    POST /{tenant}/oauth2/v2.0/token                       client_credentials grant → access token
    GET  /{tenant}/v2.0/.well-known/openid-configuration   OpenID discovery (MSAL, the sync credentials)
    GET  /common/discovery/instance                        instance metadata (MSAL)

Entra insists on TLS, so the fake serves HTTPS with a certificate from its own
test CA (``trustme``): point a process at it with ``AZURE_AUTHORITY_HOST=fake.url``
and ``SSL_CERT_FILE=fake.ca_path``. Tokens are ``entra-<n>-<random>``, valid for
``lifetime`` seconds; :meth:`valid` tells a fake resource whether a bearer
token is one it issued and still valid. :attr:`issued` records each grant
(the secret never).
"""

from __future__ import annotations

import secrets
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import trustme
from aiohttp import web

from .service import ThreadedService

__all__ = ["FakeEntra", "Grant"]


@dataclass(frozen=True)
class Grant:
    """One token the authority issued."""

    tenant: str
    client_id: str
    scope: str
    token: str
    expires: float


class FakeEntra(ThreadedService):
    thread_name = "fake-entra"

    def __init__(self, *, tenant: str = "fake-tenant", clients: dict[str, str] | None = None,
                 lifetime: int = 3600) -> None:
        self.tenant = tenant
        self.clients = dict(clients or {"fake-client": "fake-secret"})
        self.lifetime = lifetime
        self.issued: list[Grant] = []
        self.refused = 0
        self._lock = threading.Lock()
        self._ca = trustme.CA()
        self._cert = self._ca.issue_cert("127.0.0.1", "localhost")
        self._dir = tempfile.TemporaryDirectory(prefix="fake-entra-")
        self.ca_path = str(Path(self._dir.name) / "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_path)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The authority host, ``https://127.0.0.1:<port>``."""
        if self._url is None:
            raise RuntimeError("FakeEntra is not started")
        return self._url

    def valid(self, token: str) -> bool:
        """Whether ``token`` was issued here and has not expired."""
        with self._lock:
            return any(g.token == token and g.expires > time.time() for g in self.issued)

    def reset(self) -> None:
        with self._lock:
            self.issued.clear()
            self.refused = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid)
        app.router.add_get("/common/discovery/instance", self._instance)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port, ssl_context=context).start()
        self._url = f"https://{host}:{self._runner.addresses[0][1]}"
        return self._url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        tenant = request.match_info["tenant"]
        client, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        if form.get("grant_type") != "client_credentials":
            return _json(400, {"error": "unsupported_grant_type", "error_description": "AADSTS70003: grant type"})
        if tenant != self.tenant:
            return _json(400, {"error": "invalid_request", "error_description": f"AADSTS90002: Tenant '{tenant}' not found."})
        if self.clients.get(client) != secret:
            with self._lock:
                self.refused += 1
            return _json(401, {"error": "invalid_client",
                               "error_description": "AADSTS7000215: Invalid client secret provided."})
        with self._lock:
            token = f"entra-{len(self.issued) + 1}-{secrets.token_hex(8)}"
            self.issued.append(Grant(tenant, client, str(form.get("scope", "")), token, time.time() + self.lifetime))
        return _json(200, {"token_type": "Bearer", "expires_in": self.lifetime, "ext_expires_in": self.lifetime,
                           "access_token": token})

    async def _openid(self, request: web.Request) -> web.Response:
        base = f"{self.url}/{request.match_info['tenant']}"
        return _json(200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token", "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "issuer": f"{base}/v2.0", "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "NA", "cloud_instance_name": "microsoftonline.com",
        })

    async def _instance(self, request: web.Request) -> web.Response:
        host = self.url.removeprefix("https://")
        return _json(200, {"tenant_discovery_endpoint": f"{self.url}/{self.tenant}/v2.0/.well-known/openid-configuration",
                           "api-version": "1.1",
                           "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]})


def _json(status: int, body: dict[str, object]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
