"""Putting one configuration together: ``include:`` files and ``default_litellm_params``.

``include:`` (a file name or a list of them, relative to the including file)
merges other YAML files into the config, as LiteLLM does::

    include:
      - model_config.yaml       # its model_list entries are added to this file's

Lists (``model_list``, ``guardrails``) are concatenated in order, the
including file's entries first; mappings (``general_settings``, ...) are
merged key by key. A key set in two files is an error naming both, never a
silent overwrite. Included files may include others; a cycle is an error.

``router_settings.default_litellm_params`` are defaults for every
deployment's ``litellm_params`` (the deployment's own values win).

``model_info.supported_environments`` (``development``, ``staging``,
``production``) keeps a deployment only when ``LITELLM_ENVIRONMENT`` is one of
them, as in LiteLLM; naming environments without setting the variable is an
error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .load import read_config_file

__all__ = ["read_with_includes", "apply_default_params", "for_environment", "ENVIRONMENTS"]

ENVIRONMENTS = ("development", "staging", "production")

MAX_DEPTH = 10


def read_with_includes(path: Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The mapping of ``path`` with every ``include:`` merged in (and the key removed)."""
    resolved = path.resolve()
    if resolved in _chain:
        raise ConfigError("include cycle: " + " → ".join(p.name for p in (*_chain, resolved)),
                          key="include", source=str(_chain[-1]))
    if len(_chain) >= MAX_DEPTH:
        raise ConfigError(f"includes nested more than {MAX_DEPTH} deep", key="include", source=str(path))
    raw = read_config_file(path)
    includes = raw.pop("include", None)
    if includes is None:
        return raw
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) and i for i in includes):
        raise ConfigError("must be a file name or a list of file names", key="include", source=str(path))
    for name in includes:
        target = Path(name).expanduser()
        target = target if target.is_absolute() else resolved.parent / target
        included = read_with_includes(target, (*_chain, resolved))
        _merge(raw, included, source=str(path), other=str(target))
    return raw


def _merge(into: dict[str, Any], extra: dict[str, Any], *, source: str, other: str) -> None:
    for key, value in extra.items():
        mine = into.get(key)
        if mine is None:
            into[key] = value
        elif isinstance(mine, list) and isinstance(value, list):
            into[key] = mine + value
        elif isinstance(mine, dict) and isinstance(value, dict):
            for sub, sub_value in value.items():
                if sub in mine and mine[sub] != sub_value:
                    raise ConfigError(f"also set in the included file {other}; set it in one file only",
                                      key=f"{key}.{sub}", source=source)
                mine[sub] = sub_value
        elif mine != value:
            raise ConfigError(f"also set in the included file {other}; set it in one file only",
                              key=key, source=source)


def apply_default_params(model_list: list[dict[str, Any]], router_settings: dict[str, Any], *,
                         source: str) -> list[dict[str, Any]]:
    """``model_list`` with ``router_settings.default_litellm_params`` under each ``litellm_params``."""
    defaults = router_settings.get("default_litellm_params")
    if defaults is None:
        return model_list
    if not isinstance(defaults, dict):
        raise ConfigError("must be a mapping of litellm_params", key="router_settings.default_litellm_params",
                          source=source)
    merged = []
    for entry in model_list:
        params = entry.get("litellm_params")
        if isinstance(params, dict):
            entry = {**entry, "litellm_params": {**defaults, **params}}
        merged.append(entry)
    return merged


def for_environment(model_list: list[dict[str, Any]], *, source: str) -> list[dict[str, Any]]:
    """The entries whose ``model_info.supported_environments`` admit ``LITELLM_ENVIRONMENT``."""
    kept = []
    current = os.environ.get("LITELLM_ENVIRONMENT")
    for i, entry in enumerate(model_list):
        info = entry.get("model_info")
        wanted = info.get("supported_environments") if isinstance(info, dict) else None
        if wanted is None:
            kept.append(entry)
            continue
        key = f"model_list[{i}].model_info.supported_environments"
        if not isinstance(wanted, list) or any(w not in ENVIRONMENTS for w in wanted):
            raise ConfigError(f"must be a list of {', '.join(ENVIRONMENTS)}", key=key, source=source)
        if current not in ENVIRONMENTS:
            raise ConfigError(f"needs LITELLM_ENVIRONMENT set to one of {', '.join(ENVIRONMENTS)} (it is "
                              f"{'unset' if current is None else repr(current)})", key=key, source=source)
        if current in wanted:
            kept.append(entry)
    return kept
