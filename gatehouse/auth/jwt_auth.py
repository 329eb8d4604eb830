"""JWT authentication (``general_settings.enable_jwt_auth``), as LiteLLM documents it.

A bearer token with three dot-separated parts is a JWT; anything else goes on
to the master key and virtual keys, so the master key keeps working. A JWT is
verified with PyJWT against the identity provider's JWKS (see
:mod:`gatehouse.auth.jwks`): signature (asymmetric algorithms only), ``exp``
(required), ``nbf``, the audience and the issuer when configured, then the
optional ``custom_validate`` function. Its claims become the caller's
identity:

* **role**: ``proxy_admin`` when the ``scope`` (or ``scp``) claim holds
  ``admin_jwt_scope``; else ``team`` when the ``team_id_jwt_field`` claim is
  present (or ``team_id_default`` is set); else
  ``internal_user`` when the user claim (or an allowed user role) is present;
  else the role that ``role_mappings`` gives the ``roles_jwt_field`` claim. A
  token with no role is refused (Gatehouse never lets an unidentified token in).
* **routes**: each role may call its allowed routes (admins: management and
  info routes; teams and users: the LLM and info routes; configurable).
* **models**: with ``enforce_scope_based_access``, only the models of the
  token's scopes (``scope_mappings``); otherwise every model.
* ``user_id``, ``user_email``, ``team_id``, ``org_id`` and ``end_user_id``
  from the configured claims (dot paths reach nested claims).

Failures: a bad signature, audience, issuer or format → 401
``Authentication Error, Validation fails: …``; an expired token → 401
``Token Expired`` (type ``expired_key``); a role calling a route it may not →
403; the identity provider unreachable with no key known → 503.
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import AuthenticationError, GatewayError
from .identity import UserAPIKeyAuth
from .jwks import JWKSCache
from .jwt_settings import ADMIN, INTERNAL_USER, TEAM, JWTSettings
from .route_classes import route_allowed

__all__ = ["JWTAuthenticator", "ALGORITHMS", "NO_MODELS"]

#: Asymmetric algorithms only: a public key can never be used as an HMAC secret.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
#: The allow-list of a token whose scopes grant no model (matches no model name).
NO_MODELS = "\x00no-model-allowed"


def _claim(claims: dict[str, Any], path: str | None) -> Any:
    if not path:
        return None
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


class JWTAuthenticator:
    def __init__(self, settings: JWTSettings, *, validate: Callable[[dict[str, Any]], Any] | None = None) -> None:
        import jwt

        self._jwt = jwt
        self.settings = settings
        self.keys = JWKSCache(settings.public_key_urls, ttl=settings.public_key_ttl)
        self.validate = validate

    @staticmethod
    def looks_like_jwt(token: str) -> bool:
        return token.count(".") == 2

    async def authenticate(self, token: str, route: str) -> UserAPIKeyAuth:
        claims = await self._verify(token)
        identity, requirements = self._identity(claims)
        for allowed in requirements:  # the role's routes, then the routes its scopes grant (if any)
            if not route_allowed(route, allowed):
                raise GatewayError(f"Role={identity.user_role} not allowed to call route={route}. "
                                   f"Allowed routes={list(allowed)}", status=403, type="auth_error")
        return identity

    async def _verify(self, token: str) -> dict[str, Any]:
        jwt = self._jwt
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"Authentication Error, Validation fails: {exc}") from None
        if header.get("alg") not in ALGORITHMS:
            raise AuthenticationError(f"Authentication Error, Validation fails: algorithm {header.get('alg')!r} "
                                      "is not accepted")
        key = await self.keys.key_for(header.get("kid") if isinstance(header.get("kid"), str) else None)
        s = self.settings
        try:
            claims = jwt.decode(token, key.key, algorithms=ALGORITHMS, audience=s.audience, issuer=s.issuer,
                                options={"require": ["exp"], "verify_aud": s.audience is not None})
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("Token Expired", type="expired_key") from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"Authentication Error, Validation fails: {exc}") from None
        if self.validate is not None:
            self._custom_validate(claims)
        return claims

    def _custom_validate(self, claims: dict[str, Any]) -> None:
        assert self.validate is not None
        try:
            accepted = self.validate(claims)
        except Exception as exc:
            raise AuthenticationError(f"Authentication Error, Validation fails: {exc}") from None
        if accepted is not True:
            raise AuthenticationError("Authentication Error, Validation fails: custom_validate did not accept "
                                      "the token")

    def _role(self, claims: dict[str, Any], scopes: list[str], team: str | None, user: str | None) -> str:
        s = self.settings
        if s.admin_jwt_scope in scopes:
            return ADMIN
        if team is not None:
            return TEAM
        user_roles = _as_list(_claim(claims, s.user_roles_jwt_field))
        if user is not None or any(r in s.user_allowed_roles for r in user_roles):
            return INTERNAL_USER
        roles = set(_as_list(_claim(claims, s.roles_jwt_field)))
        for mapping in s.role_mappings:
            if mapping.role in roles:
                return mapping.internal_role
        raise AuthenticationError("Authentication Error, the token carries no role Gatehouse recognises (no admin "
                                  "scope, team, user or mapped role claim)")

    def _identity(self, claims: dict[str, Any]) -> tuple[UserAPIKeyAuth, list[tuple[str, ...]]]:
        s = self.settings
        scopes = _as_list(claims.get("scope")) + _as_list(claims.get("scp"))
        team = _first(_claim(claims, s.team_id_jwt_field)) or s.team_id_default  # decides the team role
        user = _first(_claim(claims, s.user_id_jwt_field))
        email = _first(_claim(claims, s.user_email_jwt_field))
        if s.user_allowed_email_domain and not (email or "").lower().endswith("@" + s.user_allowed_email_domain.lower()):
            raise AuthenticationError(f"Authentication Error, the token's email is not in the allowed domain "
                                      f"{s.user_allowed_email_domain}")
        role = self._role(claims, scopes, team, user)
        models: list[str] = []
        requirements = [s.routes[role]]
        if s.scope_mappings:
            granted = [m for m in s.scope_mappings if m.scope in scopes]
            models = [model for m in granted for model in (m.models or ())] or [NO_MODELS]
            scoped_routes = tuple(r for m in granted for r in (m.routes or ()))
            if scoped_routes:
                requirements.append(scoped_routes)
        org = _first(_claim(claims, s.org_id_jwt_field))
        identity = UserAPIKeyAuth(
            user_id=user, user_email=email, user_role=role, org_id=org,
            team_id=team or _first(_claim(claims, s.team_ids_jwt_field)), organization_id=org,
            end_user_id=_first(_claim(claims, s.end_user_id_jwt_field)), models=models,
            metadata={"auth": "jwt", "jwt_subject": claims.get("sub")},
        )
        return identity, requirements

    async def close(self) -> None:
        await self.keys.close()
