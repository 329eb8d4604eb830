"""AWS credentials for SigV4 signing: LiteLLM's credential chain, read once, refreshed in the background.

Which credentials a deployment signs with (first match, as LiteLLM):

1. ``aws_role_name`` (+ ``aws_session_name``): STS ``AssumeRole`` — or, with
   ``aws_web_identity_token``, ``AssumeRoleWithWebIdentity`` — at ``aws_sts_endpoint`` (else
   ``AWS_ENDPOINT_URL_STS``, else the region's STS), signed with the keys below;
2. ``aws_profile_name``: that profile of the shared AWS files;
3. ``aws_access_key_id`` + ``aws_secret_access_key`` (+ ``aws_session_token``);
4. botocore's default chain: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
   ``AWS_PROFILE``, the shared files, container and instance metadata.

Everything botocore does that blocks (file reads, STS, metadata) runs at start-up
(:meth:`SigningKeys.load`, before the event loop serves) or in a worker thread
(:meth:`SigningKeys.keep_fresh`); a request only reads :attr:`SigningKeys.current`,
a frozen snapshot. This module imports botocore: import it only once botocore is known
to be installed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials

from .base import DeploymentProblem, scrub

__all__ = ["SigningKeys", "keys_for", "CredentialSpec"]

log = logging.getLogger("gatehouse.providers.aws")

Fetch = Callable[[], tuple[ReadOnlyCredentials, float | None]]
#: How often credentials that botocore refreshes itself (profiles, metadata) are re-read.
BOTOCORE_REFRESH_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class CredentialSpec:
    """The ``litellm_params`` that choose the credentials (deployments with equal specs share keys)."""

    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    session_name: str | None = None
    web_identity_token: str | None = None
    sts_endpoint: str | None = None
    region: str = "us-east-1"

    @classmethod
    def from_params(cls, lp: Mapping[str, Any], region: str) -> "CredentialSpec":
        def text(key: str) -> str | None:
            value = lp.get(key)
            return str(value).strip() or None if value is not None else None

        return cls(access_key_id=text("aws_access_key_id"), secret_access_key=text("aws_secret_access_key"),
                   session_token=text("aws_session_token"), profile=text("aws_profile_name"),
                   role_arn=text("aws_role_name"), session_name=text("aws_session_name"),
                   web_identity_token=text("aws_web_identity_token"), sts_endpoint=text("aws_sts_endpoint"),
                   region=region)

    @property
    def secrets(self) -> tuple[str | None, ...]:
        return (self.secret_access_key, self.session_token, self.web_identity_token)


class SigningKeys:
    """The credentials one or more deployments sign with: :attr:`current` is always usable."""

    def __init__(self, label: str, fetch: Fetch, *, every: float | None = None,
                 secrets: tuple[str | None, ...] = ()) -> None:
        self.label = label
        self._fetch = fetch
        self._every = every
        self._secrets = secrets
        self.current: ReadOnlyCredentials | None = None
        self.expires: float | None = None
        self._lifetime = 0.0
        self.refreshes = 0

    def load(self) -> None:
        """Fetch now (blocking: start-up, or a worker thread)."""
        credentials, expires = self._fetch()
        self.current, self.expires = credentials, expires
        self._lifetime = (expires - time.time()) if expires else 0.0
        self.refreshes += 1

    def secrets(self) -> tuple[str | None, ...]:
        current = self.current
        return self._secrets + ((current.secret_key, current.token) if current is not None else ())

    def _delay(self, failed: bool) -> float | None:
        if self.expires is None:
            return self._every
        left = self.expires - time.time()
        if failed:
            return max(1.0, min(30.0, left / 4))
        margin = min(300.0, self._lifetime / 2)
        return max(0.5, left - margin)

    async def keep_fresh(self) -> None:
        """Refresh before expiry (in a thread) until cancelled; failures are logged and retried."""
        failed = False
        while (delay := self._delay(failed)) is not None:
            await asyncio.sleep(delay)
            try:
                await asyncio.to_thread(self.load)
                failed = False
            except Exception as exc:  # botocore raises many kinds; the old keys stay in use meanwhile
                failed = True
                log.warning("AWS credentials %s: refresh failed: %s", self.label,
                            scrub(f"{type(exc).__name__}: {exc}", self.secrets()))


def keys_for(spec: CredentialSpec, deployment: str) -> SigningKeys:
    """The :class:`SigningKeys` for ``spec``, loaded (raises :class:`DeploymentProblem`)."""
    if spec.role_arn:
        fetch, every, field = _assume_role(spec), None, "aws_role_name"
        label = f"role {spec.role_arn}"
    elif spec.profile:
        fetch, every, field = _from_session(_session(spec.profile), "aws_profile_name"), BOTOCORE_REFRESH_SECONDS, \
            "aws_profile_name"
        label = f"profile {spec.profile}"
    elif spec.access_key_id or spec.secret_access_key:
        if not (spec.access_key_id and spec.secret_access_key):
            missing = "aws_secret_access_key" if spec.access_key_id else "aws_access_key_id"
            raise DeploymentProblem(f"{missing} is missing (both aws_access_key_id and aws_secret_access_key are "
                                    "needed)", missing)
        frozen = ReadOnlyCredentials(spec.access_key_id, spec.secret_access_key, spec.session_token)
        fetch, every, field, label = (lambda: (frozen, None)), None, "aws_access_key_id", "static keys"
    else:
        fetch, every, field = _from_session(_session(None), None), BOTOCORE_REFRESH_SECONDS, None
        label = "default chain"
    keys = SigningKeys(f"{label} (deployment '{deployment}')", fetch, every=every, secrets=spec.secrets)
    try:
        keys.load()
    except DeploymentProblem:
        raise
    except Exception as exc:
        reason = scrub(f"{type(exc).__name__}: {exc}", spec.secrets)
        raise DeploymentProblem(f"cannot get AWS credentials from the {label}: {reason}", field) from None
    return keys


def _session(profile: str | None) -> Any:
    try:
        return botocore.session.Session(profile=profile)
    except Exception as exc:
        raise DeploymentProblem(f"AWS profile '{profile}': {exc}", "aws_profile_name") from None


def _from_session(session: Any, field: str | None) -> Fetch:
    """Credentials botocore resolves (and refreshes) itself; each fetch takes a frozen snapshot."""
    def fetch() -> tuple[ReadOnlyCredentials, float | None]:
        credentials = session.get_credentials()
        if credentials is None:
            where = f"profile '{session.profile}'" if field else "the environment"
            hint = "" if field else (": set aws_access_key_id/aws_secret_access_key on the deployment, or "
                                     "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or aws_profile_name")
            raise DeploymentProblem(f"no AWS credentials found in {where}{hint}", field)
        return credentials.get_frozen_credentials(), None
    return fetch


def _base_credentials(spec: CredentialSpec) -> Credentials | RefreshableCredentials | None:
    if spec.access_key_id and spec.secret_access_key:
        return Credentials(spec.access_key_id, spec.secret_access_key, spec.session_token)
    session = _session(spec.profile)
    return session.get_credentials()


def _assume_role(spec: CredentialSpec) -> Fetch:
    session = botocore.session.Session()
    name = spec.session_name or "gatehouse"
    if spec.web_identity_token:
        client = session.create_client("sts", region_name=spec.region, endpoint_url=spec.sts_endpoint,
                                       config=Config(signature_version=UNSIGNED))

        def web_identity() -> tuple[ReadOnlyCredentials, float | None]:
            answer = client.assume_role_with_web_identity(RoleArn=spec.role_arn, RoleSessionName=name,
                                                          WebIdentityToken=spec.web_identity_token)
            return _issued(answer)
        return web_identity
    base = _base_credentials(spec)
    if base is None:
        raise DeploymentProblem("aws_role_name needs credentials to call STS with: set aws_access_key_id/"
                                "aws_secret_access_key, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", "aws_role_name")

    def assume() -> tuple[ReadOnlyCredentials, float | None]:
        frozen = base.get_frozen_credentials()
        client = session.create_client("sts", region_name=spec.region, endpoint_url=spec.sts_endpoint,
                                       aws_access_key_id=frozen.access_key, aws_secret_access_key=frozen.secret_key,
                                       aws_session_token=frozen.token)
        try:
            return _issued(client.assume_role(RoleArn=spec.role_arn, RoleSessionName=name))
        finally:
            client.close()
    return assume


def _issued(answer: Mapping[str, Any]) -> tuple[ReadOnlyCredentials, float | None]:
    creds = answer["Credentials"]
    expiration = creds.get("Expiration")
    expires = expiration.timestamp() if hasattr(expiration, "timestamp") else None
    return ReadOnlyCredentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken")), expires
