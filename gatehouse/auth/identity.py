"""The caller's identity, as hooks receive it (LiteLLM's ``UserAPIKeyAuth``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["UserAPIKeyAuth", "MASTER_KEY_TOKEN", "DEFAULT_USER_ID"]

#: What ``api_key``/``token`` hold for the master key (LiteLLM's fixed marker).
MASTER_KEY_TOKEN = "litellm_proxy_master_key"
#: ``user_id`` of the master key.
DEFAULT_USER_ID = "default_user_id"


@dataclass
class UserAPIKeyAuth:
    """Who is calling: the virtual key's row plus what authentication learnt.

    Field names are LiteLLM's, so hooks written for LiteLLM read them
    unchanged. ``api_key`` and ``token`` hold the SHA-256 hash of the virtual
    key (never the key itself); ``end_user_id`` is the request's ``user``.
    """

    api_key: str | None = None
    token: str | None = None
    key_name: str | None = None
    key_alias: str | None = None
    user_id: str | None = None
    user_email: str | None = None
    user_role: str | None = None
    team_id: str | None = None
    team_alias: str | None = None
    team_metadata: dict[str, Any] = field(default_factory=dict)
    org_id: str | None = None
    organization_id: str | None = None
    end_user_id: str | None = None
    models: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    max_parallel_requests: int | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_budget: float | None = None
    spend: float = 0.0
    expires: datetime | None = None
    blocked: bool | None = None
    request_route: str | None = None
    parent_otel_span: Any = None

    def model_dump(self, **_: Any) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out.pop("parent_otel_span", None)
        return out


    def for_request(self, *, end_user_id: str | None, route: str) -> "UserAPIKeyAuth":
        """A copy bound to one request (the cached identity is shared)."""
        bound = object.__new__(UserAPIKeyAuth)
        bound.__dict__.update(self.__dict__)
        bound.end_user_id = end_user_id
        bound.request_route = route
        return bound

    def logging_fields(self) -> dict[str, Any]:
        """The ``user_api_key_*`` fields LiteLLM puts in request metadata."""
        return {
            "user_api_key": self.api_key,
            "user_api_key_hash": self.api_key,
            "user_api_key_alias": self.key_alias,
            "user_api_key_user_id": self.user_id,
            "user_api_key_user_email": self.user_email,
            "user_api_key_team_id": self.team_id,
            "user_api_key_team_alias": self.team_alias,
            "user_api_key_org_id": self.org_id,
            "user_api_key_end_user_id": self.end_user_id,
            "user_api_key_metadata": self.metadata,
            "user_api_key_team_metadata": self.team_metadata,
            "user_api_key_request_route": self.request_route,
        }

    dict = model_dump  # pydantic v1 spelling, for hooks that call .dict()
