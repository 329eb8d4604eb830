"""Which provider class answers each ``litellm_params.model`` prefix: one row per prefix.

A new provider is a module in this package plus rows here. Every prefix
served by the same class shares one instance (one connection pool) per
gateway process.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Mapping

from .base import Provider
from .mock import MockProvider
from .openai import DEFAULT_API_BASES, SELF_HOSTED, OpenAICompatibleProvider
from .text_completion import TextCompletionProvider

__all__ = ["REGISTRY", "ProviderFactory"]

ProviderFactory = Callable[[], Provider]

REGISTRY: Mapping[str, ProviderFactory] = MappingProxyType({
    "mock": MockProvider,
    **{name: OpenAICompatibleProvider for name in (*DEFAULT_API_BASES, *SELF_HOSTED)},
    "text-completion-openai": TextCompletionProvider,  # chat requests go to /completions
})
