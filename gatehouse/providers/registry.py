"""Which provider class answers each ``litellm_params.model`` prefix: one row per prefix.

A new provider is a module in this package plus rows here. Every prefix
served by the same class shares one instance (one connection pool) per
gateway process. The OpenAI-compatible prefixes are the rows of
:data:`.compatible.PROVIDERS`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Mapping

from .anthropic import AnthropicProvider
from .azure import AzureProvider
from .base import Provider
from .cohere import CohereProvider
from .compatible import PROVIDERS as COMPATIBLE
from .gemini import GeminiProvider
from .bedrock import BedrockProvider
from .mock import MockProvider
from .ollama import OllamaProvider
from .openai import OpenAICompatibleProvider
from .text_completion import TextCompletionProvider
from .vertex import VertexProvider

__all__ = ["REGISTRY", "ProviderFactory"]

ProviderFactory = Callable[[], Provider]

REGISTRY: Mapping[str, ProviderFactory] = MappingProxyType({
    "mock": MockProvider,
    "anthropic": AnthropicProvider,
    **{name: OpenAICompatibleProvider for name in COMPATIBLE},
    "gemini": GeminiProvider,
    "vertex_ai": VertexProvider,
    "vertex_ai_beta": VertexProvider,
    "bedrock": BedrockProvider,
    "text-completion-openai": TextCompletionProvider,  # chat requests go to /completions
    "azure": AzureProvider,
    "azure_ai": AzureProvider,
    "cohere": CohereProvider,
    "cohere_chat": CohereProvider,
    "ollama": OllamaProvider,
    "ollama_chat": OllamaProvider,
})
