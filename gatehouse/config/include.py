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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigError
from .load import read_config_file

__all__ = ["read_with_includes", "apply_default_params"]

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
