"""Providers: who answers a deployment's calls (see :mod:`.registry` for which class serves which prefix)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Mapping, Sequence

from ..config.errors import ConfigError
from ..errors import BadRequestError
from ..routing.deployment import Deployment
from .base import DeploymentProblem, Provider, UploadFile, UpstreamStream
from .mock import MockTimeoutProvider
from .registry import REGISTRY, ProviderFactory

__all__ = ["Providers", "Provider", "UploadFile", "UpstreamStream", "SUPPORTED"]

SUPPORTED = tuple(sorted(REGISTRY))
#: Distinct models one wildcard deployment serves (each is checked and kept by its provider).
MAX_CONCRETE_MODELS = 1000

log = logging.getLogger("gatehouse.providers")


class Providers:
    """One instance of each provider class in use, shared by its deployments."""

    def __init__(self, deployments: Sequence[Deployment], *, source: str = "",
                 registry: Mapping[str, ProviderFactory] = REGISTRY, max_response_bytes: int | None = None) -> None:
        """``max_response_bytes``: given to every provider that reads whole answers (``set_max_response_bytes``)."""
        self._instances: dict[ProviderFactory, Provider] = {}
        self._max_response_bytes = max_response_bytes
        self._by_id: dict[str, Provider] = {}
        self._concrete: dict[tuple[str, str], Deployment] = {}
        self._concrete_count: dict[str, int] = {}
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

    def concrete(self, base: Deployment, model: str) -> Deployment:
        """A wildcard deployment (``model: openai/*``) serving one model: made, checked by its provider and
        kept on first use. Its id is ``<base id>:<model>``; cooldown, limits and the model-id header keep
        the base's. At most :data:`MAX_CONCRETE_MODELS` per wildcard deployment (then 400)."""
        key = (base.id, model)
        found = self._concrete.get(key)
        if found is not None:
            return found
        count = self._concrete_count.get(base.id, 0)
        if count >= MAX_CONCRETE_MODELS:
            raise BadRequestError(f"model group '{base.model_name}' has served {count} distinct models, its limit; "
                                  "name the model in model_list instead", param="model")
        derived = dataclasses.replace(base, id=f"{base.id}:{model}", upstream_model=model)
        provider = self._by_id[base.id]
        try:
            provider.check(derived)
        except DeploymentProblem as problem:
            raise BadRequestError(f"model '{model}' cannot be served by '{base.model_name}': {problem.message}",
                                  param="model") from None
        self._by_id[derived.id] = provider
        self._concrete[key] = derived
        self._concrete_count[base.id] = count + 1
        return derived

    async def start(self) -> None:
        for provider in self._instances.values():
            await provider.start()

    async def close(self) -> None:
        for provider in self._instances.values():
            await provider.close()
