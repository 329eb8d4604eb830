"""Microsoft Entra ID bearer tokens for Azure deployments, through ``azure-identity``.

A :class:`EntraToken` holds one client-secret credential (tenant, client,
secret, scope) shared by the deployments that use it. :meth:`start` gets the
first token and keeps a background task that gets the next one before the
current one expires (at most five minutes before, half-way for short-lived
tokens); a request only reads the current token. The token endpoint is
``AZURE_AUTHORITY_HOST`` (azure-identity's variable, default
``https://login.microsoftonline.com``). ``azure-identity`` is an extra:
``pip install 'gatehouse[azure]'``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..errors import UpstreamError, redact_hosts
from .base import DeploymentProblem, scrub

__all__ = ["EntraToken", "INSTALL_HINT"]

log = logging.getLogger("gatehouse.providers.azure")

INSTALL_HINT = "pip install 'gatehouse[azure]'"
_EARLY = 300.0  # seconds before expiry a token is replaced (half the lifetime when that is shorter)
_RETRY = (1.0, 2.0, 5.0, 10.0, 30.0)


class EntraToken:
    """A client-credentials token for one (tenant, client, secret, scope), refreshed in the background."""

    def __init__(self, tenant_id: str, client_id: str, client_secret: str, scope: str, *, field: str) -> None:
        try:
            from azure.identity.aio import ClientSecretCredential
        except ImportError:
            raise DeploymentProblem(f"Entra ID credentials need azure-identity: {INSTALL_HINT}", field) from None
        try:
            self._credential: Any = ClientSecretCredential(tenant_id, client_id, client_secret)
        except ValueError as exc:  # e.g. a tenant id with characters Entra does not allow
            raise DeploymentProblem(scrub(str(exc), (client_secret,)), field) from None
        self._secret = client_secret
        self._scope = scope
        self._value: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.fetched = 0
        """How many tokens were obtained (tests and logs)."""

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._keep_fresh(), name="entra-token")

    async def bearer(self) -> str:
        """The current token; waits for one only when none is valid (the first, or after failures)."""
        if self._value is not None and time.time() < self._expires - 5:
            return self._value
        async with self._lock:
            if self._value is None or time.time() >= self._expires - 5:
                await self._fetch()
        assert self._value is not None
        return self._value

    async def _fetch(self) -> None:
        try:
            token = await self._credential.get_token(self._scope)
        except Exception as exc:  # azure-identity raises its own ClientAuthenticationError and transport errors
            reason = scrub(redact_hosts(str(exc).splitlines()[0] if str(exc) else type(exc).__name__), (self._secret,))
            raise UpstreamError(f"Could not get an Entra ID token: {reason}", status=401) from None
        if token.token != self._value:
            self.fetched += 1
        self._value, self._expires = token.token, float(token.expires_on)

    def _next_refresh(self) -> float:
        left = self._expires - time.time()
        return max(0.5, left - min(_EARLY, left / 2))

    async def _keep_fresh(self) -> None:
        failures = 0
        while True:
            try:
                async with self._lock:
                    await self._fetch()
                failures = 0
                await asyncio.sleep(self._next_refresh())
            except asyncio.CancelledError:
                raise
            except UpstreamError as error:
                log.warning("Entra ID token refresh failed (attempt %d): %s", failures + 1, error.message)
                await asyncio.sleep(_RETRY[min(failures, len(_RETRY) - 1)])
                failures += 1

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        await self._credential.close()
