"""``general_settings.litellm_jwtauth``, validated (LiteLLM's ``LiteLLM_JWTAuth`` keys).

Every key is either implemented, warned about (it provisions LiteLLM's user
and team tables, which Gatehouse does not have) or refused at start-up (it
would restrict access in a way Gatehouse cannot enforce). Unknown keys are
refused too, as LiteLLM itself refuses them.

The JWKS URL, audience and issuer may come from the environment, as in
LiteLLM: ``JWT_PUBLIC_KEY_URL`` (comma-separated), ``JWT_AUDIENCE``,
``JWT_ISSUER``; the config file wins.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..config.errors import ConfigError
from .route_classes import ROUTE_CLASSES

__all__ = ["JWTSettings", "RoleMapping", "ScopeMapping", "ROLES", "ADMIN", "TEAM", "INTERNAL_USER"]

log = logging.getLogger("gatehouse.auth")

ADMIN, TEAM, INTERNAL_USER = "proxy_admin", "team", "internal_user"
ROLES = (ADMIN, TEAM, INTERNAL_USER)
KEY = "general_settings.litellm_jwtauth"

_DEFAULT_ROUTES = {
    ADMIN: ("management_routes", "spend_tracking_routes", "global_spend_tracking_routes", "info_routes"),
    TEAM: ("openai_routes", "info_routes"),
    INTERNAL_USER: ("openai_routes", "info_routes"),
}
_FIELDS = ("team_id_jwt_field", "team_ids_jwt_field", "team_id_default", "org_id_jwt_field", "user_id_jwt_field",
           "user_email_jwt_field", "end_user_id_jwt_field", "user_roles_jwt_field", "roles_jwt_field",
           "user_allowed_email_domain", "admin_jwt_scope", "custom_validate")
#: Keys that provision LiteLLM's database tables: ignored with a warning.
_PROVISIONING = frozenset({"user_id_upsert", "team_id_upsert", "upsert_sso_user_to_team", "sync_user_role_and_teams",
                           "jwt_litellm_role_map"})
_OTHER = frozenset({"public_key_url", "audience", "issuer", "public_key_ttl", "admin_allowed_routes",
                    "team_allowed_routes", "user_allowed_roles", "role_mappings", "scope_mappings",
                    "enforce_scope_based_access", "enforce_rbac", "public_allowed_routes"})


@dataclass(frozen=True)
class RoleMapping:
    role: str
    internal_role: str


@dataclass(frozen=True)
class ScopeMapping:
    scope: str
    models: tuple[str, ...] | None
    routes: tuple[str, ...] | None


@dataclass(frozen=True)
class JWTSettings:
    public_key_urls: tuple[str, ...]
    audience: str | tuple[str, ...] | None = None
    issuer: str | None = None
    public_key_ttl: float = 600.0
    admin_jwt_scope: str = "litellm_proxy_admin"
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(_DEFAULT_ROUTES))
    team_id_jwt_field: str | None = None
    team_ids_jwt_field: str | None = None
    team_id_default: str | None = None
    org_id_jwt_field: str | None = None
    user_id_jwt_field: str | None = None
    user_email_jwt_field: str | None = None
    end_user_id_jwt_field: str | None = None
    user_roles_jwt_field: str | None = None
    user_allowed_roles: tuple[str, ...] = ()
    user_allowed_email_domain: str | None = None
    roles_jwt_field: str | None = None
    role_mappings: tuple[RoleMapping, ...] = ()
    scope_mappings: tuple[ScopeMapping, ...] = ()
    custom_validate: str | None = None

    @classmethod
    def from_config(cls, raw: Any, *, source: str) -> "JWTSettings":
        """Validate ``litellm_jwtauth`` (may be absent); ConfigError naming the key on any problem."""
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError("must be a mapping", key=KEY, source=source)
        reader = _Reader(raw, source)
        for name in raw:
            if name in _PROVISIONING and raw[name]:
                log.warning("%s: %s.%s: ignored: Gatehouse has no user or team tables to provision; the token's "
                            "claims are used as they are", source, KEY, name)
            elif name not in _PROVISIONING and name not in _OTHER and name not in _FIELDS:
                raise reader.fail(name, "is not implemented by Gatehouse's JWT auth (it would change who may do "
                                        "what); remove it")
        values: dict[str, Any] = {name: reader.text(name) for name in _FIELDS if raw.get(name) is not None}
        values["public_key_urls"] = _urls(raw.get("public_key_url"), reader)
        values["audience"] = _audience(raw.get("audience"), reader)
        values["issuer"] = reader.text("issuer") or os.environ.get("JWT_ISSUER") or None
        values["public_key_ttl"] = reader.number("public_key_ttl", 600.0)
        values["routes"] = _routes(raw, reader)
        values["user_allowed_roles"] = reader.str_list("user_allowed_roles")
        if bool(values.get("user_roles_jwt_field")) != bool(values["user_allowed_roles"]):
            raise reader.fail("user_allowed_roles", "user_roles_jwt_field and user_allowed_roles go together")
        values["role_mappings"] = _role_mappings(raw.get("role_mappings"), reader)
        values["scope_mappings"] = _scope_mappings(raw, reader)
        _check_enforce_rbac(raw, reader)
        settings = cls(**values)
        if settings.audience is None:
            log.warning("%s: %s: no audience (litellm_jwtauth.audience or JWT_AUDIENCE): tokens that the identity "
                        "provider issued for any other application are accepted too", source, KEY)
        return settings


class _Reader:
    def __init__(self, raw: Mapping[str, Any], source: str) -> None:
        self.raw, self.source = raw, source

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(problem, key=f"{KEY}.{key}", source=self.source)

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {type(value).__name__}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.raw.get(key, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.fail(key, f"must be a number of seconds, not {value!r}") from None
        if number < 0:
            raise self.fail(key, "must not be negative")
        return number

    def str_list(self, key: str, value: Any = None) -> tuple[str, ...]:
        value = self.raw.get(key) if value is None else value
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)


def _urls(value: Any, reader: _Reader) -> tuple[str, ...]:
    urls = reader.str_list("public_key_url", value) if value else tuple(
        u.strip() for u in os.environ.get("JWT_PUBLIC_KEY_URL", "").split(",") if u.strip())
    if not urls:
        raise reader.fail("public_key_url", "enable_jwt_auth needs the identity provider's JWKS URL: set "
                                            "litellm_jwtauth.public_key_url or JWT_PUBLIC_KEY_URL")
    for url in urls:
        if not url.startswith(("https://", "http://")):
            raise reader.fail("public_key_url", f"must be an http(s) URL, not {url!r}")
    return urls


def _audience(value: Any, reader: _Reader) -> str | tuple[str, ...] | None:
    if value is None or value == "":
        return os.environ.get("JWT_AUDIENCE") or None
    if isinstance(value, str):
        return value
    return reader.str_list("audience", value)


def _routes(raw: Mapping[str, Any], reader: _Reader) -> dict[str, tuple[str, ...]]:
    routes = dict(_DEFAULT_ROUTES)
    for role, key in ((ADMIN, "admin_allowed_routes"), (TEAM, "team_allowed_routes")):
        if raw.get(key) is not None:
            routes[role] = _known_routes(reader.str_list(key), key, reader)
    public = reader.str_list("public_allowed_routes")
    if any(r != "public_routes" for r in public):
        raise reader.fail("public_allowed_routes", "tokens without a role are always refused by Gatehouse; only "
                                                   "[public_routes] is accepted")
    return routes


def _known_routes(values: tuple[str, ...], key: str, reader: _Reader) -> tuple[str, ...]:
    for value in values:
        if value not in ROUTE_CLASSES and not value.startswith("/"):
            raise reader.fail(key, f"unknown route class {value!r}; use {', '.join(ROUTE_CLASSES)} or a path")
    return values


def _role_mappings(value: Any, reader: _Reader) -> tuple[RoleMapping, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise reader.fail("role_mappings", "must be a list of {role, internal_role}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("role"), str) or item.get(
                "internal_role") not in ROLES:
            raise reader.fail(f"role_mappings[{i}]", f"must be {{role: <claim value>, internal_role: one of "
                                                     f"{', '.join(ROLES)}}}")
        out.append(RoleMapping(item["role"], item["internal_role"]))
    if out and not reader.raw.get("roles_jwt_field"):
        raise reader.fail("roles_jwt_field", "role_mappings needs roles_jwt_field (the claim holding the roles)")
    return tuple(out)


def _scope_mappings(raw: Mapping[str, Any], reader: _Reader) -> tuple[ScopeMapping, ...]:
    value = raw.get("scope_mappings")
    enforce = raw.get("enforce_scope_based_access") is True
    if value is None:
        if enforce:
            raise reader.fail("enforce_scope_based_access", "needs scope_mappings")
        return ()
    if not enforce:
        raise reader.fail("scope_mappings", "needs enforce_scope_based_access: true (as in LiteLLM)")
    if not isinstance(value, list):
        raise reader.fail("scope_mappings", "must be a list of {scope, models, routes}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("scope"), str) or set(item) - {
                "scope", "models", "routes"}:
            raise reader.fail(f"scope_mappings[{i}]", "must be {scope, models: [...], routes: [...]}")
        models = reader.str_list(f"scope_mappings[{i}].models", item.get("models")) if item.get("models") else None
        routes = reader.str_list(f"scope_mappings[{i}].routes", item.get("routes")) if item.get("routes") else None
        if routes:
            _known_routes(routes, f"scope_mappings[{i}].routes", reader)
        out.append(ScopeMapping(item["scope"], models, routes))
    return tuple(out)


def _check_enforce_rbac(raw: Mapping[str, Any], reader: _Reader) -> None:
    value = raw.get("enforce_rbac")
    if value is not None and not isinstance(value, bool):
        raise reader.fail("enforce_rbac", "must be true or false")
