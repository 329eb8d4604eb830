"""The pipeline around ``gemini/`` and ``vertex_ai/`` deployments: guardrails see and rewrite the
OpenAI-format texts while the provider speaks Gemini; a LiteLLM config copied from its docs starts."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import FakeGuardrail, GatewayProcess
from gatehouse.testing.fake_gemini import FakeGemini, error_body
from gatehouse.testing.fake_guardrail import block_on, mask

KEY = "AIza-policy-key"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    server = FakeGemini(api_key=KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def guard() -> Iterator[FakeGuardrail]:
    service = FakeGuardrail()
    service.start_in_thread()
    yield service
    service.stop_thread()


@pytest.fixture(autouse=True)
def _clean(fake: FakeGemini, guard: FakeGuardrail) -> None:
    fake.reset()
    guard.reset()


def _guardrail(name: str, base: str, **params: Any) -> dict[str, Any]:
    return {"guardrail_name": name, "litellm_params": {"guardrail": "generic_guardrail_api", "api_base": base, **params}}


@pytest.fixture(scope="module")
def gw(gateway: Callable[..., GatewayProcess], fake: FakeGemini, guard: FakeGuardrail) -> GatewayProcess:
    return gateway({
        "model_list": [{"model_name": "gem", "litellm_params": {
            "model": "gemini/gemini-2.5-flash", "api_base": fake.url, "api_key": KEY}}],
        "guardrails": [_guardrail("pre", guard.base, mode="pre_call"),
                       _guardrail("post", guard.base, mode="post_call", streaming_sampling_rate=2)],
    })


def test_pre_call_rewrite_reaches_the_native_request(gw: GatewayProcess, fake: FakeGemini,
                                                     guard: FakeGuardrail,
                                                     openai_client: Callable[..., openai.OpenAI]) -> None:
    guard.default = mask("hunter2")
    answer = openai_client(gw).chat.completions.create(model="gem", extra_body={"guardrails": ["pre"]}, messages=[
        {"role": "system", "content": "You guard passwords."},
        {"role": "user", "content": "my password is hunter2"}])
    body = fake.calls()[-1].json
    assert body["contents"] == [{"role": "user", "parts": [{"text": "my password is [MASKED]"}]}]
    assert "hunter2" not in json.dumps(body)
    assert answer.choices[0].message.content == "Hello! You said: my password is [MASKED]"


def test_post_call_guardrail_on_a_translated_stream(gw: GatewayProcess, fake: FakeGemini, guard: FakeGuardrail) -> None:
    fake.queue(chunks=["all ", "fine ", "until ", "FORBIDDEN ", "word ", "here"])
    guard.default = block_on("FORBIDDEN", "forbidden word")
    response = httpx.post(gw.api_base + "/chat/completions", timeout=30, json={
        "model": "gem", "stream": True, "guardrails": ["post"], "messages": [{"role": "user", "content": "go"}]})
    payloads = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert not any("FORBIDDEN" in p for p in payloads)
    assert json.loads(payloads[-2])["error"]["message"] == "forbidden word" and payloads[-1] == "[DONE]"
    texts = [c["choices"][0]["delta"].get("content") or "" for c in map(json.loads, payloads[:-2]) if c.get("choices")]
    assert "".join(texts).startswith("all fine")
    assert any("FORBIDDEN" in t for r in guard.requests for t in r.body["texts"])  # it saw the translated text


def test_post_call_rewrite_on_a_translated_stream(gw: GatewayProcess, fake: FakeGemini, guard: FakeGuardrail,
                                                  openai_client: Callable[..., openai.OpenAI]) -> None:
    fake.queue(chunks=["call ", "me ", "at ", "555-0100"])
    guard.default = mask("555-0100", "[PHONE]")
    chunks = list(openai_client(gw).chat.completions.create(
        model="gem", stream=True, extra_body={"guardrails": ["post"]}, messages=[{"role": "user", "content": "x"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "call me at [PHONE]"


def test_stream_error_before_the_first_chunk_is_retried(gw: GatewayProcess, fake: FakeGemini,
                                                        openai_client: Callable[..., openai.OpenAI]) -> None:
    fake.queue(error_after=0, error=error_body(503, "The model is overloaded.", "UNAVAILABLE")["error"])
    chunks = list(openai_client(gw).chat.completions.create(
        model="gem", stream=True, messages=[{"role": "user", "content": "retry me"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello! You said: retry me"
    assert len(fake.calls("streamGenerateContent")) == 2


# From LiteLLM's docs (docs/providers/gemini.md, docs/providers/vertex.md), only the endpoints pointed at the fake.
LITELLM_DOCS_CONFIG = """
model_list:
  - model_name: gemini-pro
    litellm_params:
      model: gemini/gemini-1.5-pro
      api_key: os.environ/GEMINI_API_KEY
      api_base: {fake}
  - model_name: gemini-vision
    litellm_params:
      model: vertex_ai/gemini-1.0-pro-vision-001
      vertex_project: "project-id"
      vertex_location: "us-central1"
      vertex_credentials: "/path/to/service_account.json" # [OPTIONAL] Do this OR `!gcloud auth application-default login` - run this to add vertex credentials to your env
      api_base: {fake}
  - model_name: anthropic-vertex
    litellm_params:
      model: vertex_ai/claude-3-sonnet@20240229
      vertex_ai_project: "my-test-project"
      vertex_ai_location: "us-east-1"
      api_base: {fake}
litellm_settings:
  drop_params: true
"""


def test_litellm_docs_config_starts_and_answers(fake: FakeGemini, tmp_path: Any) -> None:
    account = tmp_path / "service_account.json"
    account.write_text(json.dumps(fake.service_account("project-id")))
    config = LITELLM_DOCS_CONFIG.format(fake=fake.url).replace("/path/to/service_account.json", str(account))
    env = {"GEMINI_API_KEY": KEY, "GOOGLE_APPLICATION_CREDENTIALS": str(account)}
    with GatewayProcess(config, env=env) as gw:
        client = openai.OpenAI(base_url=gw.api_base, api_key="anything", max_retries=0, timeout=30)
        try:
            for model in ("gemini-pro", "gemini-vision", "anthropic-vertex"):
                answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                                        logit_bias={"1": 1})  # dropped: drop_params
                assert answer.choices[0].message.content == "Hello! You said: hi", model
        finally:
            client.close()
    paths = [c.path for c in fake.calls()]
    assert paths[0] == "/v1beta/models/gemini-1.5-pro:generateContent"
    assert paths[1] == ("/v1/projects/project-id/locations/us-central1/publishers/google/models/"
                        "gemini-1.0-pro-vision-001:generateContent")
    assert paths[2] == ("/v1/projects/my-test-project/locations/us-east-1/publishers/anthropic/models/"
                        "claude-3-sonnet@20240229:rawPredict")
