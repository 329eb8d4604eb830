"""LiteLLM settings Gatehouse knows but does not implement: warned about, or refused.

Never silent: a key that Gatehouse reads is implemented; a key LiteLLM has and
Gatehouse does not is either

* **warned about by name** (:data:`NOT_IMPLEMENTED`), with what happens
  instead, when ignoring it cannot let a request through that LiteLLM would
  refuse; or
* **refused** (:data:`UNENFORCEABLE`): an auth, access or privacy setting
  Gatehouse cannot enforce stops start-up with one line naming it, because
  starting without it would serve requests the operator meant to refuse.

Keys that are absent from both lists and from the sections' known keys get the
generic "not used by Gatehouse; ignored" warning.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

from .errors import ConfigError

__all__ = ["check_known", "NOT_IMPLEMENTED", "UNENFORCEABLE", "CACHE_TYPES"]

log = logging.getLogger("gatehouse.config")

_MEMORY = "answers are cached in Redis when the gateway has one, else in memory"

#: setting path → what Gatehouse does instead (warned at start-up when the key is set to a true value).
NOT_IMPLEMENTED: Mapping[str, str] = {
    "general_settings.store_model_in_db": "models stored in the database (/model/new) are not implemented; "
                                          "models come from model_list only",
    "general_settings.alerting": "alerting integrations are not implemented",
    "general_settings.allow_requests_on_db_unavailable": "virtual keys are refused with 503 while the database "
                                                         "is down (Gatehouse fails closed)",
    "general_settings.disable_master_key_return": "Gatehouse never returns the master key",
    "general_settings.ui_access_mode": "the admin console at /ui is for admins only (master key or proxy_admin)",
    "general_settings.proxy_budget_rescheduler_min_time": "budgets do not reset on a schedule in Gatehouse",
    "general_settings.proxy_budget_rescheduler_max_time": "budgets do not reset on a schedule in Gatehouse",
    "general_settings.background_health_checks": "health checks of deployments are not implemented",
    "general_settings.health_check_interval": "health checks of deployments are not implemented",
    "litellm_settings.modify_params": "only bedrock/ deployments read it; other providers get requests as given",
    "router_settings.model_group_alias": "aliases are not implemented; call the model group by its model_name",
    "callback_settings": "per-integration callback settings are not used (Gatehouse ships no logging integrations)",
}

#: setting path → why start-up stops when it is set (to anything but false / empty).
UNENFORCEABLE: Mapping[str, str] = {
    "general_settings.allowed_routes": "route allow-lists are not implemented",
    "general_settings.admin_only_routes": "route allow-lists are not implemented",
    "general_settings.public_routes": "route allow-lists are not implemented",
    "general_settings.allowed_ips": "client IP allow-lists are not implemented",
    "general_settings.enforced_params": "required request parameters are not implemented",
    "general_settings.global_max_parallel_requests": "a gateway-wide parallel-request limit is not implemented",
    "general_settings.max_parallel_requests": "a gateway-wide parallel-request limit is not implemented",
    "general_settings.enable_oauth2_auth": "OAuth2 token introspection is not implemented (use enable_jwt_auth)",
    "general_settings.enable_oauth2_proxy_auth": "OAuth2-proxy headers are not implemented",
    "general_settings.custom_auth_settings": "custom_auth modes are not implemented (custom_auth always decides)",
    "general_settings.custom_key_generate": "custom key generation functions are not implemented",
    "general_settings.key_management_system": "reading secrets from a key management system is not implemented, "
                                              "so os.environ/ values would resolve to the wrong secrets",
    "general_settings.key_management_settings": "reading secrets from a key management system is not implemented",
    "general_settings.use_google_kms": "reading secrets from Google KMS is not implemented",
    "general_settings.use_azure_key_vault": "reading secrets from Azure Key Vault is not implemented",
    "general_settings.litellm_key_header_name": "a custom key header is not implemented (send the key as "
                                                "Authorization: Bearer, x-api-key or api-key)",
    "general_settings.user_header_name": "reading the end user from a header is not implemented",
    "litellm_settings.max_budget": "a gateway-wide budget is not implemented",
    "litellm_settings.max_end_user_budget": "end-user budgets are not implemented",
    "litellm_settings.max_internal_user_budget": "internal-user budgets are not implemented",
    "litellm_settings.default_key_generate_params": "default key parameters are not implemented",
    "litellm_settings.upperbound_key_generate_params": "upper bounds on key parameters are not implemented",
    "litellm_settings.turn_off_message_logging": "hooks and logging callbacks always receive the messages",
    "litellm_settings.redact_messages_in_exceptions": "redacting messages in errors is not implemented",
    "litellm_settings.redact_user_api_key_info": "hooks and logging callbacks always receive the key's "
                                                 "hash, alias, user and team",
    "litellm_settings.enable_azure_content_safety": "Azure content safety is not implemented",
}

#: ``cache_params.type`` values Gatehouse implements, and what the others fall back to.
CACHE_TYPES = frozenset({"local", "redis"})
_CACHE_FALLBACK = {
    "redis-semantic": "semantic caching is not implemented; exact-match caching is used",
    "qdrant-semantic": "semantic caching is not implemented; exact-match caching is used",
    "disk": "a disk cache is not implemented",
    "s3": "an S3 cache is not implemented",
    "gcs": "a GCS cache is not implemented",
    "azure-blob": "an Azure Blob cache is not implemented",
}


def _get(raw: Mapping[str, Any], path: str) -> Any:
    holder: Any = raw
    for part in path.split("."):
        if not isinstance(holder, Mapping):
            return None
        holder = holder.get(part)
    return holder


def _is_set(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none", "null")
    return value not in (None, False, [], {}, 0)


def check_known(raw: Mapping[str, Any], *, source: str, warn: bool = True) -> set[str]:
    """Refuse unenforceable settings, warn about unimplemented ones; the paths handled here.

    Raises :class:`ConfigError` naming the first unenforceable setting that is set.
    """
    handled: set[str] = set()
    for path, why in UNENFORCEABLE.items():
        if _is_set(_get(raw, path)):
            raise ConfigError(f"cannot be enforced by Gatehouse ({why}); remove it, or keep LiteLLM for this "
                              "deployment", key=path, source=source)
        if _get(raw, path) is not None:
            handled.add(path)
    for path, instead in NOT_IMPLEMENTED.items():
        value = _get(raw, path)
        if value is None:
            continue
        handled.add(path)
        if warn and _is_set(value):
            log.warning("%s: %s: not implemented by Gatehouse: %s", source, path, instead)
    _check_cache_type(raw, source, warn)
    if warn:
        _check_environment(raw)
    return handled


def _check_environment(raw: Mapping[str, Any]) -> None:
    """LiteLLM's environment switches that have no Gatehouse counterpart."""
    if _get(raw, "general_settings.store_model_in_db") is None and _is_set(os.environ.get("STORE_MODEL_IN_DB")):
        log.warning("STORE_MODEL_IN_DB (environment): not implemented by Gatehouse: %s",
                    NOT_IMPLEMENTED["general_settings.store_model_in_db"])
    if os.environ.get("LITELLM_SALT_KEY"):
        log.info("LITELLM_SALT_KEY (environment): read and not needed: Gatehouse keeps no provider credentials "
                 "in its database, and virtual keys are stored as SHA-256 hashes")


def _check_cache_type(raw: Mapping[str, Any], source: str, warn: bool) -> None:
    kind = _get(raw, "litellm_settings.cache_params.type")
    if kind is None or kind in CACHE_TYPES or not warn:
        return
    if not _is_set(_get(raw, "litellm_settings.cache")):
        return
    why = _CACHE_FALLBACK.get(str(kind), f"cache type {kind!r} is not implemented")
    log.warning("%s: litellm_settings.cache_params.type: %r: %s; %s", source, kind, why, _MEMORY)
