"""Providers: who answers a deployment's calls (see :mod:`.registry` for which class serves which prefix)."""

from __future__ import annotations

from typing import Mapping, Sequence

from ..config.errors import ConfigError
from ..routing.deployment import Deployment
from .base import DeploymentProblem, Provider, UploadFile, UpstreamStream
from .mock import MockTimeoutProvider
from .registry import REGISTRY, ProviderFactory

__all__ = ["Providers", "Provider", "UploadFile", "UpstreamStream", "SUPPORTED"]

SUPPORTED = tuple(sorted(REGISTRY))


class Providers:
    """One instance of each provider class in use, shared by its deployments."""

    def __init__(self, deployments: Sequence[Deployment], *, source: str = "",
                 registry: Mapping[str, ProviderFactory] = REGISTRY, max_response_bytes: int | None = None) -> None:
        """``max_response_bytes``: given to every provider that reads whole answers (``set_max_response_bytes``)."""
        self._instances: dict[ProviderFactory, Provider] = {}
        self._max_response_bytes = max_response_bytes
        self._by_id: dict[str, Provider] = {}
        for i, deployment in enumerate(deployments):
            self._by_id[deployment.id] = self._pick(deployment, registry, f"model_list[{i}].litellm_params", source)

    def _pick(self, deployment: Deployment, registry: Mapping[str, ProviderFactory], key: str, source: str) -> Provider:
        if deployment.params.get("mock_timeout") in (True, "true", "True"):  # LiteLLM's test switch
            return MockTimeoutProvider()
        factory = registry.get(deployment.provider)
        if factory is None:
            raise ConfigError(f"provider '{deployment.provider}' is not supported (known: {', '.join(sorted(registry))})",
                              key=f"{key}.model", source=source)
        provider = self._instances.get(factory)
        if provider is None:
            provider = self._instances[factory] = factory()
            limit = getattr(provider, "set_max_response_bytes", None)
            if self._max_response_bytes is not None and callable(limit):
                limit(self._max_response_bytes)
        try:
            provider.check(deployment)
        except DeploymentProblem as problem:
            where = f"{key}.{problem.field}" if problem.field else key
            raise ConfigError(f"deployment '{deployment.model_name}': {problem.message}", key=where,
                              source=source) from None
        return provider

    def __getitem__(self, deployment: Deployment) -> Provider:
        return self._by_id[deployment.id]

    async def start(self) -> None:
        for provider in self._instances.values():
            await provider.start()

    async def close(self) -> None:
        for provider in self._instances.values():
            await provider.close()
