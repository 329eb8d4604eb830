"""Building the authenticator from ``general_settings`` (master key, custom auth, JWT auth).

Every auth setting is enforced or stops start-up: a ``custom_auth`` that
cannot be loaded, JWT auth without a JWKS URL or without PyJWT installed,
or both at once, are :class:`ConfigError` naming the key. Nothing is dropped
with a warning and served open.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Mapping

from ..config.errors import ConfigError
from .authenticate import Authenticator, KeyLookup
from .custom_auth import CustomAuth
from .jwt_auth import JWTAuthenticator
from .jwt_settings import JWTSettings

__all__ = ["build_authenticator"]

log = logging.getLogger("gatehouse.auth")


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return value is True


def build_authenticator(
    general: Mapping[str, Any], *, master_key: str | None, store: KeyLookup | None, cache_ttl: float,
    loader: Any, source: str,
) -> Authenticator:
    custom = _custom_auth(general, loader, source)
    jwt = _jwt_auth(general, loader, source)
    if custom is not None and jwt is not None:
        raise ConfigError("set custom_auth or enable_jwt_auth, not both (custom_auth would decide every request "
                          "and the JWT settings would never apply)", key="general_settings.enable_jwt_auth",
                          source=source)
    return Authenticator(master_key=master_key, store=store, cache_ttl=cache_ttl, jwt=jwt, custom=custom)


def _custom_auth(general: Mapping[str, Any], loader: Any, source: str) -> CustomAuth | None:
    spec = general.get("custom_auth")
    if spec is None or spec == "":
        return None
    key = "general_settings.custom_auth"
    if not isinstance(spec, str):
        raise ConfigError("must be module.function, e.g. custom_auth.user_api_key_auth", key=key, source=source)
    fn = loader.resolve(spec, key=key, kind="rule")
    if not callable(fn) or inspect.isclass(fn):
        raise ConfigError(f"'{spec}' must be a function (request, api_key) -> UserAPIKeyAuth", key=key, source=source)
    return CustomAuth(fn, spec)


def _jwt_auth(general: Mapping[str, Any], loader: Any, source: str) -> JWTAuthenticator | None:
    if not _flag(general.get("enable_jwt_auth")):
        if general.get("litellm_jwtauth") is not None:
            log.warning("%s: general_settings.litellm_jwtauth is set but enable_jwt_auth is not true: JWTs are "
                        "not accepted", source)
        return None
    try:
        import jwt  # noqa: F401
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: F401
    except ImportError:
        raise ConfigError("needs PyJWT with cryptography: pip install 'gatehouse[jwt]'",
                          key="general_settings.enable_jwt_auth", source=source) from None
    settings = JWTSettings.from_config(general.get("litellm_jwtauth"), source=source)
    validate = None
    if settings.custom_validate:
        key = "general_settings.litellm_jwtauth.custom_validate"
        validate = loader.resolve(settings.custom_validate, key=key, kind="rule")
        if not callable(validate) or inspect.isclass(validate):
            raise ConfigError(f"'{settings.custom_validate}' must be a function (claims) -> True", key=key,
                              source=source)
    return JWTAuthenticator(settings, validate=validate)
