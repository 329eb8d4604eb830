"""The fake Azure resource and the fake Entra authority speak the real formats.

``openai.AzureOpenAI`` (an ``api-key``, and an ``azure_ad_token_provider``)
parses the fake resource's answers; azure-identity's ``ClientSecretCredential``
(async, what the gateway uses, and sync through MSAL) gets tokens from the
fake authority.
"""

from __future__ import annotations

import asyncio
from typing import Iterator

import openai
import pytest
from azure.identity import ClientSecretCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential

from gatehouse.testing.fake_azure import FakeAzure
from gatehouse.testing.fake_entra import FakeEntra

SCOPE = "https://cognitiveservices.azure.com/.default"


@pytest.fixture(scope="module")
def entra() -> Iterator[FakeEntra]:
    server = FakeEntra(tenant="tenant-1", clients={"client-1": "secret-1"})
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def azure(entra: FakeEntra) -> Iterator[FakeAzure]:
    server = FakeAzure(api_keys=["azure-key"], accept_token=entra.valid, deployments=["gpt4o"])
    server.start_in_thread()
    yield server
    server.stop_thread()


def _client(azure: FakeAzure, **auth: object) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=azure.endpoint, api_version="2024-10-21", max_retries=0, **auth)  # type: ignore[call-overload]


def test_chat_with_api_key(azure: FakeAzure) -> None:
    azure.reset()
    client = _client(azure, api_key="azure-key")
    answer = client.chat.completions.create(model="gpt4o", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hello! You said: hi"
    sent = azure.requests[0]
    assert sent.path == "/openai/deployments/gpt4o/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"} and sent.headers["api-key"] == "azure-key"


def test_stream_with_filter_event_and_tools(azure: FakeAzure) -> None:
    client = _client(azure, api_key="azure-key")
    chunks = list(client.chat.completions.create(model="gpt4o", messages=[{"role": "user", "content": "a b"}],
                                                 stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices == [] and chunks[-1].usage is not None
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello! You said: a b"
    azure.queue(tool_calls=[{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}])
    answer = client.chat.completions.create(model="gpt4o", messages=[{"role": "user", "content": "x"}])
    assert answer.choices[0].message.tool_calls[0].function.name == "f"


def test_embeddings_and_errors(azure: FakeAzure) -> None:
    client = _client(azure, api_key="azure-key")
    assert len(client.embeddings.create(model="gpt4o", input=["a"]).data[0].embedding) == 8
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="unknown", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.AuthenticationError):
        _client(azure, api_key="wrong").chat.completions.create(model="gpt4o", messages=[{"role": "user", "content": "x"}])
    azure.queue(status=429, error={"code": "429", "message": "Rate limit"}, headers={"retry-after": "2"})
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt4o", messages=[{"role": "user", "content": "x"}])


def test_entra_token_from_the_fake_authority_reaches_the_fake_resource(azure: FakeAzure, entra: FakeEntra) -> None:
    entra.reset()
    credential = ClientSecretCredential("tenant-1", "client-1", "secret-1", authority=entra.url,
                                        connection_verify=entra.ca_path, disable_instance_discovery=True)
    client = _client(azure, azure_ad_token_provider=lambda: credential.get_token(SCOPE).token)
    answer = client.chat.completions.create(model="gpt4o", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hello! You said: hi"
    assert entra.issued[0].scope.startswith(SCOPE) and entra.valid(entra.issued[0].token)
    assert azure.requests[-1].headers["Authorization"] == f"Bearer {entra.issued[0].token}"


def test_async_credential_and_a_wrong_secret(entra: FakeEntra) -> None:
    async def tokens() -> tuple[str, str]:
        good = AsyncClientSecretCredential("tenant-1", "client-1", "secret-1", authority=entra.url,
                                           connection_verify=entra.ca_path)
        bad = AsyncClientSecretCredential("tenant-1", "client-1", "nope", authority=entra.url,
                                          connection_verify=entra.ca_path)
        async with good, bad:
            token = (await good.get_token(SCOPE)).token
            try:
                await bad.get_token(SCOPE)
            except Exception as exc:  # ClientAuthenticationError
                return token, str(exc)
        return token, ""

    token, refusal = asyncio.run(tokens())
    assert entra.valid(token) and "AADSTS7000215" in refusal
