"""``text-completion-openai/`` deployments call ``/completions``; ``mock_timeout`` never reaches the upstream."""

from __future__ import annotations

from typing import Callable

import openai
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream) -> GatewayProcess:
    base = {"api_base": fake_upstream.url, "api_key": "sk-upstream-x"}
    return gateway({
        "model_list": [
            {"model_name": "instruct", "litellm_params": {"model": "text-completion-openai/gpt-3.5-turbo-instruct",
                                                          **base}},
            {"model_name": "hangs", "litellm_params": {"model": "openai/fake-model", "mock_timeout": True,
                                                       "timeout": 0.2, **base}},
        ],
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
    })


def test_chat_on_a_text_completion_deployment(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    with openai.OpenAI(base_url=gw.api_base, api_key="x", max_retries=0, timeout=30) as client:
        answer = client.chat.completions.create(model="instruct", messages=MESSAGES)
        chunks = list(client.chat.completions.create(model="instruct", messages=MESSAGES, stream=True))
        legacy = client.completions.create(model="instruct", prompt="hello")
    assert answer.object == "chat.completion" and answer.model == "instruct"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content == "Hello! You said: Be brief.\nhi"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello! You said: Be brief.\nhi"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert legacy.choices[0].text == "Hello! You said: hello"
    paths = [r.path for r in fake_upstream.requests]
    assert paths == ["/v1/completions"] * 3, paths
    first = fake_upstream.requests[0].json
    assert first["prompt"] == "Be brief.\nhi" and "messages" not in first


def test_mock_timeout_times_out_without_calling_the_upstream(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    with openai.OpenAI(base_url=gw.api_base, api_key="x", max_retries=0, timeout=30) as client:
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="hangs", messages=MESSAGES)
    assert info.value.status_code == 504
    assert fake_upstream.requests == []
