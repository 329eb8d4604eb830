"""``anthropic/`` deployments: credentials and bases from the environment, LiteLLM's own config,
forwarded ``anthropic-beta``, and the pipeline (guardrails) around a translating provider."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import FakeGuardrail, GatewayProcess, ServerStartError
from gatehouse.testing.fake_anthropic import FAKE_ANTHROPIC_KEY, FakeAnthropic, anthropic_model_config
from gatehouse.testing.fake_guardrail import mask

USER = [{"role": "user", "content": "what is up"}]

#: docs.litellm.ai/docs/providers/anthropic, "Usage with LiteLLM Proxy" — only api_base added.
LITELLM_DOCS_CONFIG = """
model_list:
  - model_name: claude-4 ### RECEIVED MODEL NAME ###
    litellm_params: # all params accepted by litellm.completion() - https://docs.litellm.ai/docs/completion/input
      model: claude-opus-4-20250514 ### MODEL NAME sent to `litellm.completion()` ###
      api_key: "os.environ/ANTHROPIC_API_KEY" # does os.getenv("AZURE_API_KEY_EU")
      api_base: {base}
"""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(require_api_key=FAKE_ANTHROPIC_KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def guard() -> Iterator[FakeGuardrail]:
    service = FakeGuardrail()
    service.start_in_thread()
    yield service
    service.stop_thread()


def ask(gw: GatewayProcess, model: str = "claude", **kwargs: Any) -> Any:
    with openai.OpenAI(base_url=gw.api_base, api_key="sk-any", max_retries=0, timeout=30) as client:
        return client.chat.completions.create(model=model, messages=kwargs.pop("messages", USER), **kwargs)


def test_key_and_base_from_the_environment(fake: FakeAnthropic, gateway: Callable[..., GatewayProcess]) -> None:
    fake.reset()
    entry = {"model_name": "claude", "litellm_params": {"model": "anthropic/claude-sonnet-4-5"}}
    gw = gateway({"model_list": [entry]}, env={"ANTHROPIC_API_KEY": FAKE_ANTHROPIC_KEY, "ANTHROPIC_API_BASE": fake.url})
    assert ask(gw).choices[0].message.content == "Hello! You said: what is up"
    assert fake.requests[-1].headers["x-api-key"] == FAKE_ANTHROPIC_KEY


def test_a_missing_key_stops_start_up_naming_deployment_and_variable(fake: FakeAnthropic) -> None:
    entry = anthropic_model_config(fake.url, model_name="claude-nokey")
    del entry["litellm_params"]["api_key"]
    process = GatewayProcess({"model_list": [entry]}, env={"ANTHROPIC_API_KEY": "", "ANTHROPIC_AUTH_TOKEN": ""})
    with pytest.raises(ServerStartError) as caught:
        process.start(timeout=20)
    text = str(caught.value)
    assert "claude-nokey" in text and "ANTHROPIC_API_KEY" in text and "Traceback" not in text


def test_a_config_from_litellms_docs_starts_and_answers(fake: FakeAnthropic, gateway: Callable[..., GatewayProcess]) -> None:
    fake.reset()
    gw = gateway(LITELLM_DOCS_CONFIG.format(base=fake.url), env={"ANTHROPIC_API_KEY": FAKE_ANTHROPIC_KEY})
    answer = ask(gw, "claude-4")
    assert answer.choices[0].message.content == "Hello! You said: what is up" and answer.model == "claude-4"
    body = fake.requests[-1].json
    assert body["model"] == "claude-opus-4-20250514" and body["max_tokens"] == 32000


def test_anthropic_beta_from_client_and_deployment(fake: FakeAnthropic, gateway: Callable[..., GatewayProcess]) -> None:
    fake.reset()
    gw = gateway({"model_list": [
        anthropic_model_config(fake.url, extra_headers={"anthropic-beta": "context-1m-2025-08-07", "x-team": "blue"}),
        anthropic_model_config(fake.url, model_name="claude-plain")]})
    ask(gw, extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"})
    seen = fake.requests[-1].headers
    assert seen["anthropic-beta"] == "context-1m-2025-08-07,interleaved-thinking-2025-05-14"
    assert seen["x-team"] == "blue" and seen["x-api-key"] == FAKE_ANTHROPIC_KEY
    ask(gw)
    assert fake.requests[-1].headers["anthropic-beta"] == "context-1m-2025-08-07"
    ask(gw, "claude-plain", extra_headers={"anthropic-beta": "a-1, b-2"})
    assert fake.requests[-1].headers["anthropic-beta"] == "a-1,b-2"
    ask(gw, "claude-plain")
    assert "anthropic-beta" not in fake.requests[-1].headers
    ask(gw, messages=[{"role": "user", "content": [{"type": "file", "file": {"file_id": "file_1"}}]}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07"})  # the body needs a beta of its own
    assert fake.requests[-1].headers["anthropic-beta"] == "context-1m-2025-08-07,files-api-2025-04-14"
    ask(gw, "claude-plain", extra_body={"extra_headers": {"x-api-key": "stolen", "x-trace": "t1"}})
    assert fake.requests[-1].headers["x-api-key"] == FAKE_ANTHROPIC_KEY  # a client cannot replace the key
    assert fake.requests[-1].headers["x-trace"] == "t1" and "extra_headers" not in fake.requests[-1].json


def test_deployment_params_anthropic_does_not_use_are_warned_about(fake: FakeAnthropic,
                                                                   gateway: Callable[..., GatewayProcess]) -> None:
    fake.reset()
    gw = gateway({"model_list": [anthropic_model_config(fake.url, aws_region_name="us-east-1", top_k=3)]})
    ask(gw)
    assert "litellm_params.aws_region_name is not used by anthropic deployments" in gw.logs()
    body = fake.requests[-1].json
    assert "aws_region_name" not in body and body["top_k"] == 3


def guarded(fake: FakeAnthropic, guard: FakeGuardrail, gateway: Callable[..., GatewayProcess]) -> GatewayProcess:
    fake.reset()
    guard.reset()
    guard.default = mask("secret")
    entry = {"litellm_params": {"guardrail": "generic_guardrail_api", "api_base": guard.base}}
    return gateway({
        "model_list": [anthropic_model_config(fake.url)],
        "guardrails": [
            {"guardrail_name": "pre", **entry, "litellm_params": {**entry["litellm_params"], "mode": "pre_call"}},
            {"guardrail_name": "post", "litellm_params": {**entry["litellm_params"], "mode": "post_call",
                                                          "streaming_sampling_rate": 1}},
        ],
    })


def test_a_pre_call_guardrail_rewrite_reaches_the_anthropic_request(fake: FakeAnthropic, guard: FakeGuardrail,
                                                                    gateway: Callable[..., GatewayProcess]) -> None:
    gw = guarded(fake, guard, gateway)
    answer = ask(gw, messages=[{"role": "system", "content": "keep the secret"},
                               {"role": "user", "content": "my secret plan"}], extra_body={"guardrails": ["pre"]})
    body = fake.requests[-1].json
    assert body["system"] == [{"type": "text", "text": "keep the [MASKED]"}]
    assert body["messages"] == [{"role": "user", "content": "my [MASKED] plan"}]
    assert answer.choices[0].message.content == "Hello! You said: my [MASKED] plan"


def test_a_post_call_guardrail_sees_and_rewrites_a_translated_stream(fake: FakeAnthropic, guard: FakeGuardrail,
                                                                     gateway: Callable[..., GatewayProcess]) -> None:
    gw = guarded(fake, guard, gateway)
    body = {"model": "claude", "messages": [{"role": "user", "content": "tell the secret"}], "stream": True,
            "guardrails": ["post"]}
    with httpx.stream("POST", gw.api_base + "/chat/completions", json=body, timeout=30) as response:
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    text = "".join((c.get("delta") or {}).get("content") or "" for line in lines[:-1]
                   for c in json.loads(line).get("choices") or [])
    assert "secret" not in text and text == "Hello! You said: tell the [MASKED]"
    assert any("secret" in t for b in guard.bodies for t in b["texts"])  # the guardrail saw the translated text
    assert lines[-1] == "[DONE]"
