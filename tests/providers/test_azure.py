"""``azure/`` through the gateway: deployment URLs, api-version, api-key, Entra ID tokens, the v1 API, errors.

The gateway runs as a process; the ``openai`` SDK calls it; the fake Azure
resource records what arrived (path, query, headers, body) and accepts only
the configured key or tokens the fake Entra authority issued (over HTTPS,
trusted through ``SSL_CERT_FILE``).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import openai
import pytest

from gatehouse.testing import GatewayProcess
from gatehouse.testing.fake_azure import FakeAzure
from gatehouse.testing.fake_entra import FakeEntra
from gatehouse.testing.fake_guardrail import FakeGuardrail, mask

sys.path.insert(0, str(Path(__file__).parent))
from translating_support import HELLO, ISOLATED, check_config, guardrail  # noqa: E402

KEY = "azure-key-7f3a"
STATIC = "static-entra-token-1"
SECRET = "entra-client-secret-9d"
VERSION = "2024-10-21"


@pytest.fixture(scope="module")
def entra() -> Iterator[FakeEntra]:
    server = FakeEntra(tenant="tenant-1", clients={"client-1": SECRET})
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def azure(entra: FakeEntra) -> Iterator[FakeAzure]:
    server = FakeAzure(api_keys=[KEY], accept_token=lambda t: t == STATIC or entra.valid(t))
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def guard() -> Iterator[FakeGuardrail]:
    server = FakeGuardrail(default=mask("secret"))
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(autouse=True)
def _clean(azure: FakeAzure) -> None:
    azure.reset()


def _entry(name: str, **params: Any) -> dict[str, Any]:
    return {"model_name": name, "litellm_params": {"model": "azure/gpt4o-deploy", **params}}


def _env(entra: FakeEntra, **extra: str) -> dict[str, str]:
    return {**ISOLATED, "AZURE_AUTHORITY_HOST": entra.url, "SSL_CERT_FILE": entra.ca_path, **extra}


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], azure: FakeAzure, entra: FakeEntra,
       guard: FakeGuardrail) -> GatewayProcess:
    base = azure.endpoint
    return gateway({
        "model_list": [
            _entry("gpt-azure", api_base=base, api_key=KEY, api_version=VERSION),
            _entry("no-version", api_base=base, api_key=KEY),
            _entry("v1", api_base=base + "/openai/v1", api_key=KEY),
            _entry("static-token", api_base=base, azure_ad_token=STATIC, api_version=VERSION),
            _entry("entra", api_base=base, tenant_id="tenant-1", client_id="client-1", client_secret=SECRET),
            _entry("entra-too", api_base=base + "/", tenant_id="tenant-1", client_id="client-1",
                   client_secret=SECRET),
            {"model_name": "emb", "litellm_params": {"model": "azure/embed-deploy", "api_base": base, "api_key": KEY}},
            {"model_name": "whisper", "litellm_params": {"model": "azure/whisper-deploy", "api_base": base,
                                                         "api_key": KEY}},
            {"model_name": "dalle", "litellm_params": {"model": "azure/dalle-deploy", "api_base": base,
                                                       "api_key": KEY}},
            {"model_name": "foundry", "litellm_params": {"model": "azure_ai/mistral-large", "api_base": base + "/openai/v1"}},
        ],
        "guardrails": [guardrail("mask-secret", guard.url, "pre_call"),
                       guardrail("mask-out", guard.url, "post_call", streaming_sampling_rate=1)],
        "router_settings": {"num_retries": 2, "retry_after": 0},
    }, env=_env(entra, AZURE_API_VERSION="2025-01-01-preview", AZURE_AI_API_KEY=STATIC))


def _client(gw: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.api_base, api_key="sk-test", max_retries=0, timeout=30)


def test_chat_calls_the_deployment_url_with_api_version_and_api_key(gw: GatewayProcess, azure: FakeAzure) -> None:
    answer = _client(gw).chat.completions.create(
        model="gpt-azure", messages=[{"role": "system", "content": "be brief"}, *HELLO], temperature=0.2)
    assert answer.choices[0].message.content == "Hello! You said: hi"
    assert answer.model == "gpt-azure"
    sent = azure.requests[-1]
    assert sent.path == "/openai/deployments/gpt4o-deploy/chat/completions"
    assert sent.query == {"api-version": VERSION}
    assert sent.headers["api-key"] == KEY and "Authorization" not in sent.headers
    assert sent.json["messages"][0] == {"role": "system", "content": "be brief"} and sent.json["temperature"] == 0.2


def test_api_version_from_environment_and_v1_base(gw: GatewayProcess, azure: FakeAzure) -> None:
    client = _client(gw)
    client.chat.completions.create(model="no-version", messages=HELLO)
    assert azure.requests[-1].query == {"api-version": "2025-01-01-preview"}  # AZURE_API_VERSION
    client.chat.completions.create(model="v1", messages=HELLO)
    sent = azure.requests[-1]
    assert sent.path == "/openai/v1/chat/completions" and sent.query == {}
    assert sent.json["model"] == "gpt4o-deploy"


def test_every_endpoint_uses_its_deployment_url(gw: GatewayProcess, azure: FakeAzure) -> None:
    client = _client(gw)
    assert client.completions.create(model="gpt-azure", prompt="say").choices[0].text == "Hello! You said: say"
    assert len(client.embeddings.create(model="emb", input=["a", "b"]).data) == 2
    assert client.images.generate(model="dalle", prompt="a cat").data[0].url
    text = client.audio.transcriptions.create(model="whisper", file=("a.wav", io.BytesIO(b"RIFF0000"), "audio/wav"))
    assert text.text.startswith("transcribed a.wav")
    paths = [r.path for r in azure.requests]
    assert paths == ["/openai/deployments/gpt4o-deploy/completions", "/openai/deployments/embed-deploy/embeddings",
                     "/openai/deployments/dalle-deploy/images/generations",
                     "/openai/deployments/whisper-deploy/audio/transcriptions"]
    assert all(r.query == {"api-version": "2025-01-01-preview"} for r in azure.requests[1:])
    with pytest.raises(openai.BadRequestError, match="does not serve moderation"):
        client.moderations.create(model="gpt-azure", input="x")


async def test_stream_with_azure_filter_events_and_usage(gw: GatewayProcess, azure: FakeAzure) -> None:
    client = openai.AsyncOpenAI(base_url=gw.api_base, api_key="sk-test", max_retries=0, timeout=30)
    stream = await client.chat.completions.create(model="gpt-azure", messages=[{"role": "user", "content": "a b c"}],
                                                  stream=True, stream_options={"include_usage": True})
    chunks = [c async for c in stream]
    await client.close()
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello! You said: a b c"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
    assert azure.requests[-1].json["stream"] is True


def test_tool_calls_pass_through(gw: GatewayProcess, azure: FakeAzure) -> None:
    calls = [{"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}},
             {"id": "call_b", "type": "function", "function": {"name": "time", "arguments": "{}"}}]
    azure.queue(tool_calls=calls)
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in ("weather", "time")]
    answer = _client(gw).chat.completions.create(model="gpt-azure", messages=HELLO, tools=tools, tool_choice="auto")
    assert [c.function.name for c in answer.choices[0].message.tool_calls] == ["weather", "time"]
    assert answer.choices[0].finish_reason == "tool_calls"
    assert azure.requests[-1].json["tools"] == tools


def test_foundry_deployment_with_key_from_the_environment(gw: GatewayProcess, azure: FakeAzure) -> None:
    _client(gw).chat.completions.create(model="foundry", messages=HELLO)
    sent = azure.requests[-1]
    assert sent.path == "/openai/v1/chat/completions" and sent.json["model"] == "mistral-large"
    assert sent.headers["Authorization"] == f"Bearer {STATIC}"  # not an Azure host name: a bearer key


def test_static_azure_ad_token_is_a_bearer_token(gw: GatewayProcess, azure: FakeAzure) -> None:
    _client(gw).chat.completions.create(model="static-token", messages=HELLO)
    sent = azure.requests[-1]
    assert sent.headers["Authorization"] == f"Bearer {STATIC}" and "api-key" not in sent.headers


def test_entra_client_secret_gets_one_token_for_many_requests(gw: GatewayProcess, azure: FakeAzure,
                                                             entra: FakeEntra) -> None:
    client = _client(gw)
    client.chat.completions.create(model="entra", messages=HELLO)
    granted = len(entra.issued)
    for model in ("entra-too", "entra", "entra-too", "entra"):
        assert client.chat.completions.create(model=model, messages=HELLO).choices[0].message.content
    assert len(entra.issued) == granted  # tokens are not fetched per request
    tokens = {r.headers["Authorization"] for r in azure.requests}
    assert len(tokens) == 1  # one credential, shared by both deployments
    grant = next(g for g in entra.issued if f"Bearer {g.token}" in tokens)
    assert grant.client_id == "client-1" and grant.scope.startswith("https://cognitiveservices.azure.com/.default")


def test_a_pre_call_guardrail_rewrite_reaches_azure(gw: GatewayProcess, azure: FakeAzure) -> None:
    _client(gw).chat.completions.create(model="gpt-azure", messages=[{"role": "user", "content": "my secret"}],
                                        extra_body={"guardrails": ["mask-secret"]})
    assert azure.requests[-1].json["messages"][0]["content"] == "my [MASKED]"


def test_a_post_call_guardrail_on_an_azure_stream(gw: GatewayProcess, azure: FakeAzure) -> None:
    azure.queue(chunks=["the ", "secret ", "plan"])
    chunks = list(_client(gw).chat.completions.create(model="gpt-azure", messages=HELLO, stream=True,
                                                      extra_body={"guardrails": ["mask-out"]}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "the [MASKED] plan"


def test_errors_keep_status_and_retry_after(gw: GatewayProcess, azure: FakeAzure) -> None:
    client = _client(gw)
    azure.queue(status=400, error={"message": "The response was filtered", "type": None, "param": "prompt",
                                   "code": "content_filter"})
    with pytest.raises(openai.BadRequestError, match="filtered"):
        client.chat.completions.create(model="gpt-azure", messages=HELLO)
    for _ in range(3):
        azure.queue(status=429, error={"code": "429", "message": "Rate limit reached"}, headers={"retry-after": "1"})
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-azure", messages=HELLO)
    assert caught.value.response.headers.get("retry-after") == "1"
    azure.reset()
    azure.queue(status=503, error={"code": "503", "message": "busy"})
    assert client.chat.completions.create(model="gpt-azure", messages=HELLO).choices[0].message.content
    assert len(azure.requests) == 2  # retried once, then answered


def test_an_unreachable_key_never_appears(gw: GatewayProcess, azure: FakeAzure) -> None:
    azure.queue(status=401, error={"code": "401", "message": f"key {KEY} is wrong"})
    with pytest.raises(openai.AuthenticationError) as caught:
        _client(gw).chat.completions.create(model="gpt-azure", messages=HELLO)
    assert KEY not in caught.value.message and "[REDACTED]" in caught.value.message
    assert KEY not in gw.logs() and SECRET not in gw.logs()


# -- credentials from the environment ------------------------------------------------------------
def test_key_and_base_from_the_environment(gateway: Callable[..., GatewayProcess], azure: FakeAzure,
                                           entra: FakeEntra) -> None:
    config = {"model_list": [{"model_name": "env", "litellm_params": {"model": "azure/gpt4o-deploy"}}]}
    gw = gateway(config, env=_env(entra, AZURE_API_KEY=KEY, AZURE_API_BASE=azure.endpoint))
    _client(gw).chat.completions.create(model="env", messages=HELLO)
    sent = azure.requests[-1]
    assert sent.headers["api-key"] == KEY and sent.query == {"api-version": "2025-02-01-preview"}  # LiteLLM's default


def test_entra_credentials_from_the_environment(gateway: Callable[..., GatewayProcess], azure: FakeAzure,
                                                entra: FakeEntra) -> None:
    config = {"model_list": [{"model_name": "env-entra", "litellm_params": {
        "model": "azure/gpt4o-deploy", "api_base": azure.endpoint}}]}
    gw = gateway(config, env=_env(entra, AZURE_TENANT_ID="tenant-1", AZURE_CLIENT_ID="client-1",
                                  AZURE_CLIENT_SECRET=SECRET))
    _client(gw).chat.completions.create(model="env-entra", messages=HELLO)
    token = azure.requests[-1].headers["Authorization"].removeprefix("Bearer ")
    assert entra.valid(token)


def test_tokens_are_refreshed_before_they_expire(gateway: Callable[..., GatewayProcess], azure: FakeAzure) -> None:
    short = FakeEntra(tenant="tenant-2", clients={"client-2": SECRET}, lifetime=2)
    short.start_in_thread()
    resource = FakeAzure(api_keys=[], accept_token=short.valid)
    resource.start_in_thread()
    try:
        config = {"model_list": [{"model_name": "short", "litellm_params": {
            "model": "azure/gpt4o-deploy", "api_base": resource.endpoint, "tenant_id": "tenant-2",
            "client_id": "client-2", "client_secret": SECRET}}]}
        gw = gateway(config, env={**ISOLATED, "AZURE_AUTHORITY_HOST": short.url, "SSL_CERT_FILE": short.ca_path})
        assert short.wait_until(lambda: len(short.issued) >= 3, timeout=20)  # in the background, no request made
        _client(gw).chat.completions.create(model="short", messages=HELLO)  # the resource takes valid tokens only
        assert resource.requests[-1].headers["Authorization"] != f"Bearer {short.issued[0].token}"
    finally:
        resource.stop_thread()
        short.stop_thread()


def test_a_wrong_client_secret_is_a_clean_401(gateway: Callable[..., GatewayProcess], azure: FakeAzure,
                                              entra: FakeEntra) -> None:
    config = {"model_list": [{"model_name": "wrong", "litellm_params": {
        "model": "azure/gpt4o-deploy", "api_base": azure.endpoint, "tenant_id": "tenant-1", "client_id": "client-1",
        "client_secret": "not-the-secret-42"}}], "router_settings": {"num_retries": 0}}
    gw = gateway(config, env=_env(entra))
    with pytest.raises(openai.AuthenticationError) as caught:
        _client(gw).chat.completions.create(model="wrong", messages=HELLO)
    assert "Entra ID token" in caught.value.message and "not-the-secret-42" not in caught.value.message
    assert azure.requests == []


# -- start-up refusals ------------------------------------------------------------------------
def test_start_up_names_the_missing_credential(tmp_path: Path) -> None:
    config = {"model_list": [{"model_name": "no-cred", "litellm_params": {"model": "azure/d", "api_base": "https://x.openai.azure.com"}}]}
    result = check_config(config, tmp_path)
    assert result.returncode == 2
    assert "deployment 'no-cred'" in result.stderr and "AZURE_API_KEY" in result.stderr
    result = check_config({"model_list": [{"model_name": "no-base", "litellm_params": {"model": "azure/d",
                                                                                       "api_key": "k"}}]}, tmp_path)
    assert result.returncode == 2 and "AZURE_API_BASE" in result.stderr and "model_list[0].litellm_params.api_base" in result.stderr


def test_start_up_refuses_oidc_tokens_and_half_entra_credentials(tmp_path: Path) -> None:
    oidc = {"model_list": [{"model_name": "o", "litellm_params": {
        "model": "azure/d", "api_base": "https://x.openai.azure.com", "azure_ad_token": "oidc/github/token"}}]}
    result = check_config(oidc, tmp_path)
    assert result.returncode == 2 and "oidc/" in result.stderr and "azure_ad_token" in result.stderr
    half = {"model_list": [{"model_name": "h", "litellm_params": {
        "model": "azure/d", "api_base": "https://x.openai.azure.com", "tenant_id": "t", "client_id": "c"}}]}
    result = check_config(half, tmp_path)
    assert result.returncode == 2 and "client_secret" in result.stderr and "AZURE_CLIENT_SECRET" in result.stderr


def test_without_azure_identity_start_up_says_what_to_install(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "azure" / "identity"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('azure-identity is not installed')\n")
    (shadow / "aio.py").write_text("raise ImportError('azure-identity is not installed')\n")
    config = {"model_list": [{"model_name": "e", "litellm_params": {
        "model": "azure/d", "api_base": "https://x.openai.azure.com", "tenant_id": "t", "client_id": "c",
        "client_secret": "s"}}]}
    from gatehouse.testing.processes import _package_root

    result = check_config(config, tmp_path, env={"PYTHONPATH": f"{tmp_path / 'shadow'}:{_package_root()}"})
    assert result.returncode == 2 and "pip install 'gatehouse[azure]'" in result.stderr


# -- a config from LiteLLM's Azure docs, only api_base pointed at the fake --------------------
LITELLM_DOCS_CONFIG = """
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-deployment
      api_base: {base}
      api_key: os.environ/AZURE_API_KEY
      api_version: "2024-08-01-preview"
  - model_name: gpt-4o-entra
    litellm_params:
      model: azure/gpt-4o-deployment
      api_base: {base}
      api_version: "2023-05-15"
      tenant_id: os.environ/AZURE_TENANT_ID
      client_id: os.environ/AZURE_CLIENT_ID
      client_secret: os.environ/AZURE_CLIENT_SECRET
litellm_settings:
  drop_params: true
"""


def test_a_config_from_litellm_docs_starts_and_answers(gateway: Callable[..., GatewayProcess], azure: FakeAzure,
                                                       entra: FakeEntra) -> None:
    gw = gateway(LITELLM_DOCS_CONFIG.format(base=azure.endpoint),
                 env=_env(entra, AZURE_API_KEY=KEY, AZURE_TENANT_ID="tenant-1", AZURE_CLIENT_ID="client-1",
                          AZURE_CLIENT_SECRET=SECRET))
    client = _client(gw)
    for model in ("gpt-4o", "gpt-4o-entra"):
        assert client.chat.completions.create(model=model, messages=HELLO).choices[0].message.content
    assert [r.query["api-version"] for r in azure.requests] == ["2024-08-01-preview", "2023-05-15"]
