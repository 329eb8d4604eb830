"""Providers: who answers a deployment's calls."""

from __future__ import annotations

from typing import Sequence

from ..config.errors import ConfigError
from ..routing.deployment import Deployment
from .base import Provider, UploadFile, UpstreamStream
from .mock import MockProvider
from .openai import DEFAULT_API_BASES, DEFAULT_MAX_RESPONSE_BYTES, SELF_HOSTED, OpenAICompatibleProvider

__all__ = ["Providers", "Provider", "UploadFile", "UpstreamStream", "SUPPORTED"]

SUPPORTED = tuple(sorted({"mock", *DEFAULT_API_BASES, *SELF_HOSTED}))


class Providers:
    """One instance of each provider kind, shared by all deployments."""

    def __init__(self, deployments: Sequence[Deployment], *, source: str = "",
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self._openai = OpenAICompatibleProvider(max_response_bytes=max_response_bytes)
        self._mock = MockProvider()
        self._by_id: dict[str, Provider] = {}
        for i, deployment in enumerate(deployments):
            self._by_id[deployment.id] = self._pick(deployment, i, source)

    def _pick(self, deployment: Deployment, index: int, source: str) -> Provider:
        key = f"model_list[{index}].litellm_params"
        if deployment.provider == "mock":
            return self._mock
        if deployment.provider not in SUPPORTED:
            raise ConfigError(
                f"provider '{deployment.provider}' is not supported; Gatehouse speaks the OpenAI API: "
                f"use 'openai/<model>' with the provider's OpenAI-compatible api_base "
                f"(known: {', '.join(SUPPORTED)})",
                key=f"{key}.model", source=source,
            )
        if deployment.provider in SELF_HOSTED and not deployment.api_base:
            raise ConfigError(f"provider '{deployment.provider}' needs an api_base", key=f"{key}.api_base", source=source)
        return self._openai

    def __getitem__(self, deployment: Deployment) -> Provider:
        return self._by_id[deployment.id]

    async def close(self) -> None:
        await self._openai.close()
        await self._mock.close()
