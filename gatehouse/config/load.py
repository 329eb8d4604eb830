"""Loading LiteLLM's ``config.yaml``: YAML, ``environment_variables``, ``os.environ/`` values.

Gatehouse reads LiteLLM's format unchanged (see ``docs/config.md``). Every
problem is a :class:`ConfigError` naming the file, the key and what is wrong;
keys Gatehouse does not know are warned about once and ignored.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

__all__ = ["read_config_file", "resolve_environment", "ENV_PREFIX"]

log = logging.getLogger("gatehouse.config")

ENV_PREFIX = "os.environ/"


def read_config_file(path: Path) -> dict[str, Any]:
    """The parsed YAML mapping of ``path`` (an empty file is an empty config)."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", source=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror})", source=source) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"invalid YAML{where}: {problem}", source=source) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"the top level must be a mapping, not {type(raw).__name__}", source=source)
    return raw


def apply_environment_variables(raw: dict[str, Any], *, source: str) -> None:
    """Export the config's ``environment_variables`` (as LiteLLM does, before resolving)."""
    env = raw.get("environment_variables")
    if env is None:
        return
    if not isinstance(env, dict):
        raise ConfigError("must be a mapping of NAME: value", key="environment_variables", source=source)
    for name, value in env.items():
        if value is None:
            continue
        os.environ[str(name)] = str(value)


def resolve_environment(value: Any, *, source: str, path: str = "") -> Any:
    """Replace every ``os.environ/NAME`` string, anywhere in ``value``.

    An unset variable resolves to ``None`` with a warning naming the key (as
    LiteLLM does); required fields then fail validation with their own message.
    """
    if isinstance(value, str):
        if value.startswith(ENV_PREFIX):
            name = value[len(ENV_PREFIX):]
            resolved = os.environ.get(name)
            if resolved is None:
                log.warning("%s: %s: environment variable %s is not set", source, path or "<root>", name)
            return resolved
        return value
    if isinstance(value, dict):
        return {k: resolve_environment(v, source=source, path=_join(path, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_environment(v, source=source, path=f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
