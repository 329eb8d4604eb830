"""The embedded default configuration: a mock model, SQLite, in-memory cache.

``gatehouse`` started without ``--config`` runs on this, so ``curl`` works at
once with no provider key.
"""

from __future__ import annotations

from typing import Any

__all__ = ["embedded_default"]


def embedded_default() -> dict[str, Any]:
    """A fresh copy of the embedded default config (LiteLLM format)."""
    return {
        "model_list": [
            {"model_name": "mock", "litellm_params": {"model": "mock/gatehouse-mock"}},
        ],
        "general_settings": {},
        "litellm_settings": {},
    }
