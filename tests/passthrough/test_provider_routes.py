"""Pass-through routes through the real gateway, each driven by the provider's own SDK.

``anthropic`` at ``{gateway}/anthropic``, ``openai`` at ``{gateway}/openai``,
``openai.AzureOpenAI`` at ``{gateway}/azure``, ``google-genai`` at ``{gateway}/gemini``,
``cohere`` at ``{gateway}/cohere``, ``boto3`` bedrock-runtime at ``{gateway}/bedrock``
(the fake Bedrock verifies the gateway's SigV4 re-signature: the client signs with
keys the fake does not know), and Vertex AI with a Google token minted by the
gateway. Each client authenticates with a Gatehouse virtual key; the provider
credential comes from the ``use_in_pass_through`` deployment; the client's key
never reaches the provider; limits count; spend is priced from the provider's usage.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import anthropic
import boto3
import cohere
import httpx
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from gatehouse.testing import FakeUpstream, GatewayProcess
from gatehouse.testing.fake_anthropic import FAKE_ANTHROPIC_KEY, FakeAnthropic
from gatehouse.testing.fake_answers import speech_bytes
from gatehouse.testing.fake_azure import FakeAzure
from gatehouse.testing.fake_bedrock import ACCESS_KEY, SECRET_KEY, FakeBedrock
from gatehouse.testing.fake_cohere import FakeCohere
from gatehouse.testing.fake_gemini import FakeGemini

sys.path.insert(0, str(Path(__file__).parents[1] / "providers"))
from translating_support import ISOLATED  # noqa: E402

MASTER = "sk-pass-master-7a1f"
UPSTREAM_KEY = "sk-upstream-pass-1"
CO_KEY, AZURE_KEY, GEMINI_KEY = "co-pass-key", "azure-pass-key", "gemini-pass-key"
MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"
HI = [{"role": "user", "content": "hi there"}]


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Any]]:
    servers: dict[str, Any] = {"anthropic": FakeAnthropic(require_api_key=FAKE_ANTHROPIC_KEY),
                               "cohere": FakeCohere(require_key=CO_KEY), "azure": FakeAzure(api_keys=(AZURE_KEY,)),
                               "gemini": FakeGemini(api_key=GEMINI_KEY), "bedrock": FakeBedrock()}
    for server in servers.values():
        server.start_in_thread()
    servers["account"] = json.dumps(servers["gemini"].service_account("pass-project"))  # one key pair: one gateway
    yield servers
    for name, server in servers.items():
        if name != "account":
            server.stop_thread()


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], fakes: dict[str, Any], fake_upstream: FakeUpstream) -> GatewayProcess:
    for name, server in fakes.items():
        if name != "account":
            server.reset()
    account = fakes["account"]

    def lend(name: str, model: str, **params: Any) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {"model": model, "use_in_pass_through": True, **params}}
    return gateway({
        "model_list": [
            lend("claude", "anthropic/claude-sonnet-4-5", api_base=fakes["anthropic"].url, api_key=FAKE_ANTHROPIC_KEY),
            lend("gpt", "openai/gpt-4o", api_base=fake_upstream.url, api_key=UPSTREAM_KEY),
            lend("command", "cohere/command-a-03-2025", api_base=fakes["cohere"].url, api_key=CO_KEY),
            lend("az", "azure/my-gpt", api_base=fakes["azure"].endpoint, api_key=AZURE_KEY, api_version="2025-03-01"),
            lend("flash", "gemini/gemini-2.5-flash", api_base=fakes["gemini"].url, api_key=GEMINI_KEY),
            lend("vertex", "vertex_ai/gemini-2.5-flash", api_base=fakes["gemini"].url, vertex_credentials=account,
                 vertex_project="pass-project", vertex_location="us-central1"),
            lend("sonnet-bedrock", f"bedrock/{MODEL_ID}", aws_access_key_id=ACCESS_KEY,
                 aws_secret_access_key=SECRET_KEY, aws_region_name="us-east-1",
                 aws_bedrock_runtime_endpoint=fakes["bedrock"].url),
        ],
        "general_settings": {"master_key": MASTER},
    }, env=ISOLATED)


def new_key(gw: GatewayProcess, **limits: Any) -> str:
    response = httpx.post(f"{gw.base_url}/key/generate", json=limits, headers={"Authorization": f"Bearer {MASTER}"})
    assert response.status_code == 200, response.text
    return str(response.json()["key"])


def spend_of(gw: GatewayProcess, key: str, expected: float) -> float:
    deadline, spend = time.monotonic() + 8, 0.0
    while time.monotonic() < deadline:
        info = httpx.get(f"{gw.base_url}/key/info", params={"key": key}, headers={"Authorization": f"Bearer {MASTER}"})
        spend = float(info.json()["info"]["spend"])
        if spend >= expected - 1e-12:
            break
        time.sleep(0.1)
    return spend


def never_forwarded(key: str, headers: dict[str, str]) -> None:
    assert all(key not in str(value) for value in headers.values()), "the client's Gatehouse key reached the provider"


def test_the_anthropic_sdk(gw: GatewayProcess, fakes: dict[str, Any]) -> None:
    key = new_key(gw)
    client = anthropic.Anthropic(base_url=f"{gw.base_url}/anthropic", api_key=key, max_retries=0)
    answer = client.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages=HI,
                                    extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"})
    assert answer.content[0].text == "Hello! You said: hi there"
    sent = fakes["anthropic"].requests[-1]
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == FAKE_ANTHROPIC_KEY
    assert sent.headers["anthropic-beta"] == "prompt-caching-2024-07-31" and "anthropic-version" in sent.headers
    never_forwarded(key, sent.headers)
    cost = answer.usage.input_tokens * 3e-6 + answer.usage.output_tokens * 1.5e-5  # claude-sonnet-4-5
    assert spend_of(gw, key, cost) == pytest.approx(cost)


def test_the_anthropic_sdk_streams(gw: GatewayProcess, fakes: dict[str, Any]) -> None:
    key = new_key(gw)
    client = anthropic.Anthropic(base_url=f"{gw.base_url}/anthropic", api_key=key, max_retries=0)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=50, messages=HI) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello! You said: hi there"
    cost = final.usage.input_tokens * 3e-6 + final.usage.output_tokens * 1.5e-5
    assert spend_of(gw, key, cost) == pytest.approx(cost)


def test_provider_errors_come_back_as_the_provider_wrote_them(gw: GatewayProcess, fakes: dict[str, Any]) -> None:
    fakes["anthropic"].queue(status=429, error_type="rate_limit_error", error_message="slow down",
                             headers={"retry-after": "7"})
    client = anthropic.Anthropic(base_url=f"{gw.base_url}/anthropic", api_key=MASTER, max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=HI)
    assert caught.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"},
                                 "request_id": "req_fake_1"}  # Anthropic's own body, as it wrote it
    assert caught.value.response.headers["retry-after"] == "7"


def test_the_openai_sdk(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    key = new_key(gw)
    client = openai.OpenAI(base_url=f"{gw.base_url}/openai", api_key=key, max_retries=0)
    answer = client.chat.completions.create(model="gpt-4o", messages=HI)
    assert answer.choices[0].message.content == "Hello! You said: hi there" and answer.model == "gpt-4o"
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    never_forwarded(key, sent.headers)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=HI, stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello! You said: hi there"
    usage = answer.usage
    assert usage is not None and chunks[-1].usage is not None
    per_call = [(u.prompt_tokens * 2.5e-6 + u.completion_tokens * 1e-5) for u in (usage, chunks[-1].usage)]  # gpt-4o
    assert spend_of(gw, key, sum(per_call)) == pytest.approx(sum(per_call))


def test_openai_audio_is_relayed_as_it_arrives(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(hold_after_chunks=1)
    client = openai.OpenAI(base_url=f"{gw.base_url}/openai/v1", api_key=MASTER, max_retries=0)
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input="pieces") as response:
        pieces = response.iter_bytes()
        first = next(pieces)  # the upstream waits after its first piece: the gateway buffered nothing
        fake_upstream.release.set()
        rest = b"".join(pieces)
    assert response.headers["content-type"] == "audio/mpeg"
    assert first + rest == b"".join(speech_bytes("pieces"))


def test_azure_style_unified_routes_still_win(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    client = openai.AzureOpenAI(azure_endpoint=gw.base_url, api_key=MASTER, api_version="2024-10-21", max_retries=0)
    answer = client.chat.completions.create(model="gpt", messages=HI)  # the model group, through the unified flow
    assert answer.model == "gpt" and fake_upstream.requests[-1].json["model"] == "gpt-4o"


def test_the_azure_route(gw: GatewayProcess, fakes: dict[str, Any]) -> None:
    key = new_key(gw)
    client = openai.AzureOpenAI(azure_endpoint=f"{gw.base_url}/azure", api_key=key, api_version="2025-03-01",
                                max_retries=0)
    answer = client.chat.completions.create(model="my-gpt", messages=HI)
    assert answer.choices[0].message.content == "Hello! You said: hi there"
    sent = fakes["azure"].requests[-1]
    assert sent.path == "/openai/deployments/my-gpt/chat/completions" and sent.headers["api-key"] == AZURE_KEY
    never_forwarded(key, sent.headers)


def test_google_genai_at_the_gemini_route(gw: GatewayProcess, fakes: dict[str, Any]) -> None:
    key = new_key(gw)
    client = genai.Client(api_key=key, http_options=genai_types.HttpOptions(base_url=f"{gw.base_url}/gemini"))
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="hi there")
    assert answer.text == "Hello! You said: hi there"
    sent = fakes["gemini"].requests[-1]
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY and sent.route["model"] == "gemini-2.5-flash"
    never_forwarded(key, sent.headers)
    streamed = "".join(c.text or "" for c in client.models.generate_content_stream(model="gemini-2.5-flash",
                                                                                     contents="hi there"))
    assert streamed == "Hello! You said: hi there"
    usage = answer.usage_metadata
    assert usage is not None
    cost = 2 * (usage.prompt_token_count * 3e-7 + usage.candidates_token_count * 2.5e-6)  # gemini-2.5-flash
    assert spend_of(gw, key, cost) == pytest.approx(cost)


def test_vertex_gets_a_google_token_from_the_gateway(gw: GatewayProcess, fakes: dict[str, Any]) -> None:
    path = "/v1/projects/pass-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    response = httpx.post(f"{gw.base_url}/vertex_ai{path}", headers={"x-litellm-api-key": f"Bearer {MASTER}"},
                          json={"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["candidates"][0]["content"]["parts"][0]["text"] == "Hello! You said: hi there"
    sent = fakes["gemini"].requests[-1]
    assert sent.path == path and fakes["gemini"].token_valid(sent.headers["Authorization"])


def test_the_cohere_sdk(gw: GatewayProcess, fakes: dict[str, Any]) -> None:
    client = cohere.ClientV2(api_key=MASTER, base_url=f"{gw.base_url}/cohere", timeout=30)
    answer = client.chat(model="command-a-03-2025", messages=[{"role": "user", "content": "hi there"}])
    assert answer.message.content[0].text == "Hello! You said: hi there"  # type: ignore[index,union-attr]
    assert fakes["cohere"].requests[-1].headers["Authorization"] == f"Bearer {CO_KEY}"


def _bedrock_client(gw: GatewayProcess, key: str) -> Any:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=f"{gw.base_url}/bedrock",
                          aws_access_key_id="AKIDCLIENTONLY", aws_secret_access_key="client-secret")

    def add_key(request: Any, **_: Any) -> None:
        request.headers["x-litellm-api-key"] = key
    client.meta.events.register("before-sign.bedrock-runtime.*", add_key)
    return client


def test_boto3_bedrock_is_re_signed_by_the_gateway(gw: GatewayProcess, fakes: dict[str, Any]) -> None:
    key = new_key(gw)
    client = _bedrock_client(gw, key)
    answer = client.converse(modelId=MODEL_ID, messages=[{"role": "user", "content": [{"text": "hi there"}]}])
    assert answer["output"]["message"]["content"][0]["text"] == "Hello! You said: hi there"
    sent = fakes["bedrock"].requests[-1]
    assert sent.signer == ACCESS_KEY and sent.model_id == MODEL_ID  # the gateway's keys, not the client's
    never_forwarded(key, sent.headers)
    events = client.converse_stream(modelId=MODEL_ID, messages=[{"role": "user", "content": [{"text": "hi there"}]}])
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events["stream"] if "contentBlockDelta" in e)
    assert text == "Hello! You said: hi there"
    usage = answer["usage"]
    cost = usage["inputTokens"] * 3e-6 + usage["outputTokens"] * 1.5e-5  # Claude 3.5 Sonnet on Bedrock
    assert spend_of(gw, key, cost) == pytest.approx(cost)


def test_a_wrong_or_missing_gatehouse_key_is_refused(gw: GatewayProcess, fakes: dict[str, Any]) -> None:
    for headers in ({}, {"x-api-key": "sk-not-a-key"}, {"Authorization": "Bearer sk-nope"}):
        response = httpx.post(f"{gw.base_url}/anthropic/v1/messages", headers=headers, timeout=30,
                              json={"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": HI})
        assert response.status_code == 401, response.text
        assert response.json()["error"]["type"] == "auth_error"
    assert not fakes["anthropic"].requests


def test_limits_are_counted(gw: GatewayProcess, fakes: dict[str, Any]) -> None:
    key = new_key(gw, rpm_limit=2)
    client = anthropic.Anthropic(base_url=f"{gw.base_url}/anthropic", api_key=key, max_retries=0)
    for _ in range(2):
        client.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=HI)
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=HI)
    assert len(fakes["anthropic"].requests) == 2


def test_a_key_limited_to_other_models_is_refused(gw: GatewayProcess, fakes: dict[str, Any]) -> None:
    key = new_key(gw, models=["gpt"])
    client = anthropic.Anthropic(base_url=f"{gw.base_url}/anthropic", api_key=key, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=HI)
    nameless = httpx.get(f"{gw.base_url}/anthropic/v1/models", headers={"x-api-key": key}, timeout=30)
    assert nameless.status_code == 403  # names no model: a limited key cannot use it as a side door
    assert not fakes["anthropic"].requests


def test_an_unconfigured_route_says_what_to_set(gateway: Callable[..., GatewayProcess]) -> None:
    bare = gateway({"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/m"}}],
                    "general_settings": {"master_key": MASTER}}, env=ISOLATED)
    response = httpx.post(f"{bare.base_url}/anthropic/v1/messages", headers={"x-api-key": MASTER}, timeout=30,
                          json={"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": HI})
    assert response.status_code == 404
    assert "ANTHROPIC_API_KEY" in response.json()["error"]["message"]
