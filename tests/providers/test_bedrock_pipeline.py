"""The pipeline around a bedrock/ deployment: guardrails see OpenAI text, retries see Bedrock's errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import openai
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bedrock_support import AWS_ENV, bedrock_fake, deployment, fake  # noqa: E402,F401

from gatehouse.testing import FakeGuardrail, GatewayProcess  # noqa: E402
from gatehouse.testing.fake_bedrock import FakeBedrock, Reply  # noqa: E402
from gatehouse.testing.fake_guardrail import mask  # noqa: E402

HELLO = [{"role": "user", "content": "my secret is 42"}]


@pytest.fixture(scope="module")
def guard() -> Iterator[FakeGuardrail]:
    service = FakeGuardrail()
    service.start_in_thread()
    yield service
    service.stop_thread()


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], fake: FakeBedrock, guard: FakeGuardrail) -> GatewayProcess:
    guard.reset()
    config: dict[str, Any] = {
        "model_list": [deployment("claude", fake.url)],
        "guardrails": [
            {"guardrail_name": "pre", "litellm_params": {"guardrail": "generic_guardrail_api", "mode": "pre_call",
                                                         "api_base": guard.base}},
            {"guardrail_name": "post", "litellm_params": {"guardrail": "generic_guardrail_api", "mode": "post_call",
                                                          "api_base": guard.base, "streaming_sampling_rate": 1}},
        ],
        "router_settings": {"num_retries": 2, "retry_after": 0, "backoff_base": 0.01},
    }
    return gateway(config, env=AWS_ENV)


@pytest.fixture
def client(gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return openai_client(gw)


def test_a_pre_call_rewrite_reaches_the_converse_request(client: openai.OpenAI, fake: FakeBedrock,
                                                         guard: FakeGuardrail) -> None:
    guard.default = mask("secret")
    answer = client.chat.completions.create(model="claude", messages=HELLO, extra_body={"guardrails": ["pre"]})
    assert fake.requests[-1].body["messages"][0]["content"] == [{"text": "my [MASKED] is 42"}]
    assert answer.choices[0].message.content == "Hello! You said: my [MASKED] is 42"


def test_a_post_call_guardrail_rewrites_a_translated_stream(client: openai.OpenAI, fake: FakeBedrock,
                                                            guard: FakeGuardrail) -> None:
    fake.queue(Reply(text="the code is secret ok"))
    guard.default = mask("secret")
    chunks = list(client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}],
                                                 stream=True, extra_body={"guardrails": ["post"]}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "secret" not in text and "[MASKED]" in text
    assert guard.count >= 1 and all(c.model == "claude" for c in chunks)


def test_overloaded_bedrock_is_retried(client: openai.OpenAI, fake: FakeBedrock) -> None:
    busy = Reply(status=503, error_type="ServiceUnavailableException", message="busy")
    fake.queue(busy, Reply(status=429, error_type="ThrottlingException", message="slow"))
    answer = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hello! You said: hi" and len(fake.requests) == 3
    fake.reset()
    fake.default = busy
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503 and len(fake.requests) == 3
