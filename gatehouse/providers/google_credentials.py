"""Google credentials for Vertex AI, through ``google-auth`` (never OAuth by hand).

``vertex_credentials`` is a path to a credentials JSON file, the JSON itself
(text or mapping), or absent: then Application Default Credentials
(``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's ADC file, the metadata server).
Service-account keys, authorized-user files and workload-identity
(external account) configurations are accepted, as LiteLLM accepts them.

Each distinct credential is one :class:`TokenSource`: its access token is
minted once the loop runs and refreshed in the background five minutes before
it expires. google-auth's refresh is blocking, so it runs in a worker thread.
A request that finds no valid token waits for the one refresh in flight.
Tokens never appear in a log or an error message.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
from typing import Any, Mapping

from ..errors import UpstreamError, UpstreamUnavailableError
from .base import DeploymentProblem, scrub

__all__ = ["TokenSource", "load_credentials", "require_google_auth", "SCOPES"]

log = logging.getLogger("gatehouse.providers.vertex")

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
INSTALL_HINT = "vertex_ai needs google-auth: pip install 'gatehouse[vertex]'"
TOKEN_TIMEOUT = 10.0
"""Seconds one token request may take."""


def require_google_auth() -> Any:
    """The ``google.auth`` package, or a start-up problem naming the extra to install."""
    try:
        import google.auth
        import google.auth.transport.requests  # noqa: F401  (needs `requests`, part of the extra)
    except ImportError:
        raise DeploymentProblem(INSTALL_HINT) from None
    return google.auth


def load_credentials(source: Any) -> tuple[Any, str | None]:
    """(google-auth credentials, project id they name) for ``vertex_credentials``."""
    google_auth = require_google_auth()
    from google.auth import exceptions

    try:
        if source is None:
            credentials, project = google_auth.default(scopes=SCOPES)
            return credentials, project
        info = _info(source)
        return _from_info(info), info.get("project_id") or info.get("quota_project_id")
    except exceptions.DefaultCredentialsError as exc:
        where = "vertex_credentials" if source is not None else None
        hint = "" if source is not None else " (set vertex_credentials or GOOGLE_APPLICATION_CREDENTIALS)"
        raise DeploymentProblem(f"no usable Google credentials: {exc}{hint}", where) from None
    except (ValueError, KeyError) as exc:
        raise DeploymentProblem(f"the Google credentials are not valid: {exc}", "vertex_credentials") from None


def _info(source: Any) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return dict(source)
    text = str(source).strip()
    if not text.startswith("{"):
        if not os.path.isfile(text):
            raise DeploymentProblem("vertex_credentials is neither a readable file nor credentials JSON",
                                    "vertex_credentials")
        with open(text, encoding="utf-8") as handle:
            text = handle.read()
    try:
        info = json.loads(text)
    except ValueError:
        raise DeploymentProblem("vertex_credentials does not hold valid JSON", "vertex_credentials") from None
    if not isinstance(info, dict):
        raise DeploymentProblem("vertex_credentials must be a JSON object", "vertex_credentials")
    return info


def _from_info(info: dict[str, Any]) -> Any:
    kind = info.get("type")
    if kind == "service_account":
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    if kind == "authorized_user":
        from google.oauth2 import credentials

        return credentials.Credentials.from_authorized_user_info(info, scopes=SCOPES)
    if kind == "external_account":
        source = info.get("credential_source") or {}
        if "aws" in str(source.get("environment_id", "")):
            from google.auth import aws

            return aws.Credentials.from_info(info, scopes=SCOPES)
        from google.auth import identity_pool

        return identity_pool.Credentials.from_info(info, scopes=SCOPES)
    raise DeploymentProblem(f"credentials of type '{kind}' are not supported (service_account, authorized_user, "
                            "external_account are)", "vertex_credentials")


class _TimedRequest:
    """google-auth's requests transport with a bounded timeout (its default is 120 s)."""

    def __init__(self) -> None:
        import google.auth.transport.requests as transport

        self._inner = transport.Request()

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: float | None = None, **kwargs: Any) -> Any:
        return self._inner(url, method=method, body=body, headers=headers, timeout=timeout or TOKEN_TIMEOUT, **kwargs)


class TokenSource:
    """One credential's access token: minted, refreshed ahead of expiry, shared by its deployments."""

    margin = datetime.timedelta(minutes=5)
    """Refresh this long before the token expires."""
    retry_max = 60.0

    def __init__(self, credentials: Any, label: str) -> None:
        self._credentials = credentials
        self._label = label
        self._request: _TimedRequest | None = None
        self._lock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None

    def _left(self) -> datetime.timedelta | None:
        """Time until the token expires (None: it does not say)."""
        expiry = self._credentials.expiry
        if expiry is None:
            return None
        if expiry.tzinfo is not None:  # google-auth uses naive UTC; be safe if that changes
            expiry = expiry.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return expiry - datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    def _fresh(self, within: datetime.timedelta) -> bool:
        if not self._credentials.token:
            return False
        left = self._left()
        return left is None or left > within

    async def token(self) -> str:
        """A valid access token (refreshing now when the background refresh has not)."""
        if not self._fresh(datetime.timedelta(seconds=30)):
            await self.refresh()
        return str(self._credentials.token)

    async def refresh(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._fresh(self.margin):
                return  # another caller refreshed while we waited
            if self._request is None:
                self._request = _TimedRequest()
            try:
                await asyncio.to_thread(self._credentials.refresh, self._request)
            except Exception as exc:
                raise self._error(exc) from None

    def _error(self, exc: Exception) -> UpstreamError | UpstreamUnavailableError:
        from google.auth import exceptions

        secret = getattr(self._credentials, "token", None)
        reason = scrub(str(exc) or type(exc).__name__, (secret,))
        if isinstance(exc, exceptions.RefreshError) and not getattr(exc, "retryable", False):
            return UpstreamError(f"{self._label}: the Google token endpoint refused the credentials: {reason}",
                                 status=401, type="authentication_error")
        return UpstreamUnavailableError(f"{self._label}: could not obtain a Google access token: {reason}")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._keep_fresh(), name=f"token refresh {self._label}")

    async def _keep_fresh(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # keep trying in the background; requests report the failure
                log.warning("%s: token refresh failed, retrying in %.0f s: %s", self._label, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            delay = 1.0
            await asyncio.sleep(self._until_due())

    def _until_due(self) -> float:
        left = self._left()
        if left is None:
            return 3000.0
        return max(1.0, (left - self.margin).total_seconds())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
