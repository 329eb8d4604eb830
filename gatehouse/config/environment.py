"""The environment settings LiteLLM deployments rely on, and where each setting came from.

LiteLLM's Docker image, Helm chart and CI configure the proxy through the
environment as much as through ``config.yaml``. Gatehouse reads the same
variables, with the same precedence (the config file wins, the variable fills
in what the file leaves unset):

=====================  ===================================  =========================================
variable               setting                              notes
=====================  ===================================  =========================================
``LITELLM_MASTER_KEY``  ``general_settings.master_key``      a container started with it is not open
``DATABASE_URL``        ``general_settings.database_url``
``REDIS_HOST`` /        ``router_settings.redis_host`` /     also ``REDIS_URL``
``REDIS_PORT`` /        ``redis_port`` / ``redis_password``
``REDIS_PASSWORD``
``STORE_MODEL_IN_DB``   ``general_settings.store_model_in_db``  models in the database: not implemented
``LITELLM_SALT_KEY``    (encrypts credentials LiteLLM keeps   Gatehouse keeps none: read, reported, unused
                        in its database)
``LITELLM_LOG``         log level                            ``GATEHOUSE_LOG`` wins
=====================  ===================================  =========================================

:func:`origins` says, for the start-up log, where each of these came from —
never a value, since most of them are secrets.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from .load import ENV_PREFIX

__all__ = ["from_config_or_env", "origins", "SETTINGS"]

#: (setting path in config.yaml, environment variables LiteLLM reads for it)
SETTINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("general_settings.master_key", ("LITELLM_MASTER_KEY",)),
    ("general_settings.database_url", ("DATABASE_URL",)),
    ("router_settings.redis_url", ("REDIS_URL",)),
    ("router_settings.redis_host", ("REDIS_HOST",)),
    ("router_settings.redis_port", ("REDIS_PORT",)),
    ("router_settings.redis_password", ("REDIS_PASSWORD",)),
    ("general_settings.store_model_in_db", ("STORE_MODEL_IN_DB",)),
    ("general_settings.custom_auth", ()),
    ("general_settings.enable_jwt_auth", ()),
    ("litellm_jwtauth.public_key_url", ("JWT_PUBLIC_KEY_URL",)),
    ("litellm_jwtauth.audience", ("JWT_AUDIENCE",)),
    ("litellm_jwtauth.issuer", ("JWT_ISSUER",)),
    ("(credential encryption)", ("LITELLM_SALT_KEY",)),
    ("(log level)", ("GATEHOUSE_LOG", "LITELLM_LOG")),
)


def from_config_or_env(value: Any, env_name: str) -> Any:
    """``value`` when the config set it, else the environment variable (``None`` when neither)."""
    if value is not None and value != "":
        return value
    return os.environ.get(env_name) or None


def _lookup(raw: Mapping[str, Any], path: str) -> Any:
    section, _, key = path.partition(".")
    holder: Any = raw.get(section) if section != "litellm_jwtauth" else (
        (raw.get("general_settings") or {}).get("litellm_jwtauth"))
    return holder.get(key) if isinstance(holder, Mapping) else None


def origins(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(setting, where it came from)`` for every setting of :data:`SETTINGS` that is set.

    ``raw`` is the config mapping *before* ``os.environ/`` references are resolved,
    so a value written as ``os.environ/NAME`` is reported as coming from ``NAME``.
    """
    found: list[tuple[str, str]] = []
    for path, env_names in SETTINGS:
        value = _lookup(raw, path) if not path.startswith("(") else None
        if isinstance(value, str) and value.startswith(ENV_PREFIX):
            name = value[len(ENV_PREFIX):]
            where = f"config file, from the environment variable {name}"
            found.append((path, where if os.environ.get(name) else where + " (not set)"))
        elif value is not None and value != "":
            found.append((path, "config file"))
        else:
            for name in env_names:
                if os.environ.get(name):
                    found.append((path, f"environment variable {name}"))
                    break
    return found
