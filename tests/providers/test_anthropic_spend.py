"""Spend on ``anthropic/`` deployments is priced from Anthropic's reported usage, prompt-cache reads
and writes at their own prices (the built-in price of claude-sonnet-4-5)."""

from __future__ import annotations

import time
from typing import Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import GatewayProcess
from gatehouse.testing.fake_anthropic import FAKE_ANTHROPIC_KEY, FakeAnthropic, anthropic_model_config

MASTER = "sk-anthropic-spend-master"
USAGE = {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50, "output_tokens": 5}
#: claude-sonnet-4-5: input 3e-6, cache read 3e-7, cache write 3.75e-6, output 1.5e-5 USD per token.
COST = 10 * 3e-6 + 100 * 3e-7 + 50 * 3.75e-6 + 5 * 1.5e-5


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(require_api_key=FAKE_ANTHROPIC_KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def gw(fake: FakeAnthropic, gateway: Callable[..., GatewayProcess]) -> GatewayProcess:
    fake.reset()
    return gateway({"model_list": [anthropic_model_config(fake.url)], "general_settings": {"master_key": MASTER}})


def new_key(gw: GatewayProcess) -> str:
    response = httpx.post(f"{gw.base_url}/key/generate", json={}, headers={"Authorization": f"Bearer {MASTER}"})
    assert response.status_code == 200, response.text
    return str(response.json()["key"])


def spend_reaching(gw: GatewayProcess, key: str, expected: float) -> float:
    deadline = time.monotonic() + 8
    spend = 0.0
    while time.monotonic() < deadline:
        info = httpx.get(f"{gw.base_url}/key/info", params={"key": key}, headers={"Authorization": f"Bearer {MASTER}"})
        spend = info.json()["info"]["spend"]
        if spend >= expected - 1e-12:
            break
        time.sleep(0.1)
    return spend


def test_a_chat_answer_is_priced_with_cache_tokens(gw: GatewayProcess, fake: FakeAnthropic,
                                                   openai_client: Callable[..., openai.OpenAI]) -> None:
    key = new_key(gw)
    fake.queue(text="ok", usage=USAGE)
    openai_client(gw, api_key=key).chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert spend_reaching(gw, key, COST) == pytest.approx(COST)


def test_a_streamed_answer_is_priced_from_its_usage_chunk(gw: GatewayProcess, fake: FakeAnthropic,
                                                          openai_client: Callable[..., openai.OpenAI]) -> None:
    key = new_key(gw)
    fake.queue(text="ok", usage=USAGE)
    stream = openai_client(gw, api_key=key).chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    assert [c for c in stream][-1].usage is not None
    assert spend_reaching(gw, key, COST) == pytest.approx(COST)
