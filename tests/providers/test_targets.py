"""Where Azure, Foundry, Ollama and Cohere deployments send their calls (worked out at start-up), and Cohere rerank.

These read the targets the providers build in ``check()`` for hosts a test
cannot serve (``*.openai.azure.com``, ``*.services.ai.azure.com``,
``localhost:11434``); the calls themselves are tested through the gateway in
the other modules of this directory.
"""

from __future__ import annotations

from typing import Any

import pytest

from gatehouse.providers.azure import AzureProvider, azure_urls, foundry_urls, uses_api_key_header
from gatehouse.providers.base import DeploymentProblem
from gatehouse.providers.cohere import CohereProvider
from gatehouse.providers.ollama import OllamaProvider
from gatehouse.routing.deployment import deployments_from_config
from gatehouse.testing.fake_cohere import FakeCohere


def _deployment(**params: Any) -> Any:
    return deployments_from_config([{"model_name": "m", "litellm_params": params}], source="test")[0]


def test_azure_urls_for_each_kind_of_base() -> None:
    classic = azure_urls("https://res.openai.azure.com/", "gpt 4o", "2024-10-21", explicit_version=True)
    assert classic["chat"] == "https://res.openai.azure.com/openai/deployments/gpt%204o/chat/completions?api-version=2024-10-21"
    assert "moderation" not in classic
    assert azure_urls("https://res.openai.azure.com/openai", "d", "v", explicit_version=False)["embedding"] == (
        "https://res.openai.azure.com/openai/deployments/d/embeddings?api-version=v")
    given = azure_urls("https://res.openai.azure.com/openai/deployments/other/chat/completions?api-version=2023-05-15",
                       "d", "v", explicit_version=False)
    assert given["chat"] == "https://res.openai.azure.com/openai/deployments/other/chat/completions?api-version=2023-05-15"
    v1 = azure_urls("https://res.openai.azure.com/openai/v1/", "d", "v", explicit_version=False)
    assert v1["chat"] == "https://res.openai.azure.com/openai/v1/chat/completions"


def test_foundry_urls_and_headers() -> None:
    assert foundry_urls("https://res.services.ai.azure.com", None)["chat"] == (
        "https://res.services.ai.azure.com/models/chat/completions")
    assert foundry_urls("https://res.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview",
                        None)["embedding"] == "https://res.services.ai.azure.com/models/embeddings?api-version=2024-05-01-preview"
    assert foundry_urls("https://my-llama.eastus.models.ai.azure.com/v1", "x")["chat"] == (
        "https://my-llama.eastus.models.ai.azure.com/v1/chat/completions?api-version=x")
    assert uses_api_key_header("https://res.services.ai.azure.com") and uses_api_key_header("https://r.openai.azure.com")
    assert not uses_api_key_header("https://my-llama.eastus.models.ai.azure.com")
    provider = AzureProvider(environ={"AZURE_AI_API_KEY": "ai-key"})
    target = provider.target_for(_deployment(model="azure_ai/mistral-large", api_base="https://res.services.ai.azure.com"),
                                 {"AZURE_AI_API_KEY": "ai-key"})
    assert target.headers == {"api-key": "ai-key"}
    with pytest.raises(DeploymentProblem, match="AZURE_AI_API_KEY"):
        provider.target_for(_deployment(model="azure_ai/x", api_base="https://h"), {})


def test_explicit_credentials_win_over_the_environment() -> None:
    env = {"AZURE_API_KEY": "env-key", "AZURE_API_BASE": "https://env.openai.azure.com"}
    provider = AzureProvider(environ=env)
    target = provider.target_for(_deployment(model="azure/d", azure_ad_token="tok"), env)
    assert target.headers == {"Authorization": "Bearer tok"} and target.urls["chat"].startswith("https://env.")
    target = provider.target_for(_deployment(model="azure/d"), env)
    assert target.headers == {"api-key": "env-key"}
    token_env = {"AZURE_AD_TOKEN": "env-token", "AZURE_API_BASE": "https://env.openai.azure.com"}
    target = AzureProvider(environ=token_env).target_for(_deployment(model="azure/d"), token_env)
    assert target.headers == {"Authorization": "Bearer env-token"}


def test_ollama_defaults_to_localhost_11434() -> None:
    provider = OllamaProvider(environ={})
    deployment = _deployment(model="ollama_chat/llama3")
    provider.check(deployment)
    assert provider._target(deployment).base == "http://localhost:11434"
    assert "Authorization" not in provider._target(deployment).headers


async def test_cohere_rerank_translation_against_the_fake() -> None:
    async with _Served(FakeCohere()) as fake:
        provider = CohereProvider(environ={"COHERE_API_KEY": "k"})
        deployment = _deployment(model="cohere/rerank-v3.5", api_base=fake.url)
        provider.check(deployment)
        try:
            answer = await provider.call("rerank", {"query": "red fox", "top_n": 2, "documents": [
                "blue sky", {"text": "a red fox"}, "red"]}, deployment, 10)
        finally:
            await provider.close()
    assert fake.requests[-1].json == {"model": "rerank-v3.5", "query": "red fox", "top_n": 2,
                                      "documents": ["blue sky", "a red fox", "red"]}
    assert [(r["index"], r["document"]["text"]) for r in answer["results"]] == [(1, "a red fox"), (2, "red")]


class _Served:
    def __init__(self, fake: FakeCohere) -> None:
        self.fake = fake

    async def __aenter__(self) -> FakeCohere:
        await self.fake.start()
        return self.fake

    async def __aexit__(self, *exc: object) -> None:
        await self.fake.stop()
