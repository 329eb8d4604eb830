"""Gatehouse: a fast, programmable, LiteLLM-compatible LLM gateway.

The public API for hook authors::

    from gatehouse import CustomLogger, UserAPIKeyAuth, DualCache, HTTPException
    from gatehouse import ModelResponse, ModelResponseStream, get_formatted_prompt, verbose_logger

A LiteLLM callback file runs on Gatehouse by changing its ``litellm`` import
lines to these names (``from fastapi import HTTPException`` works as it is:
FastAPI is a dependency). See docs/writing-hooks.md.
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

__all__ = [
    "__version__",
    "CustomLogger",
    "UserAPIKeyAuth",
    "DualCache",
    "HTTPException",
    "ModelResponse",
    "ModelResponseStream",
    "get_formatted_prompt",
    "verbose_logger",
    "verbose_proxy_logger",
]

_LAZY = {
    "CustomLogger": ("gatehouse.policy.custom_logger", "CustomLogger"),
    "UserAPIKeyAuth": ("gatehouse.auth.identity", "UserAPIKeyAuth"),
    "DualCache": ("gatehouse.cache", "DualCache"),
    "HTTPException": ("gatehouse.errors", "HTTPException"),
    "ModelResponse": ("gatehouse.views", "ModelResponse"),
    "ModelResponseStream": ("gatehouse.views", "ModelResponseStream"),
    "get_formatted_prompt": ("gatehouse.policy.prompts", "get_formatted_prompt"),
}


def __getattr__(name: str) -> Any:
    if name in ("verbose_logger", "verbose_proxy_logger"):
        import logging

        return logging.getLogger("gatehouse.hooks")
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'gatehouse' has no attribute {name!r}")


if TYPE_CHECKING:  # pragma: no cover
    from .auth.identity import UserAPIKeyAuth
    from .cache import DualCache
    from .errors import HTTPException
    from .views import ModelResponse, ModelResponseStream
    from .policy.custom_logger import CustomLogger
    from .policy.prompts import get_formatted_prompt
