"""Spend on ``gemini/`` and ``vertex_ai/`` deployments is priced from Gemini's ``usageMetadata``:
cached prompt tokens at the cached price, thoughts as output (built-in prices of gemini-2.5-flash)."""

from __future__ import annotations

import json
import time
from typing import Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import GatewayProcess
from gatehouse.testing.fake_gemini import FakeGemini, studio_model, vertex_model

MASTER = "sk-gemini-spend-master"
KEY = "AIza-spend"
USAGE = {"promptTokenCount": 10, "cachedContentTokenCount": 4, "candidatesTokenCount": 5, "thoughtsTokenCount": 20,
         "totalTokenCount": 35}
#: gemini-2.5-flash: input 3e-7, cached input 7.5e-8, output 2.5e-6 USD per token; thoughts are output.
COST = 6 * 3e-7 + 4 * 7.5e-8 + 25 * 2.5e-6


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    server = FakeGemini(api_key=KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def gw(fake: FakeGemini, gateway: Callable[..., GatewayProcess]) -> GatewayProcess:
    return gateway({"model_list": [studio_model(fake.url, name="gem", api_key=KEY),
                                   vertex_model(fake.url, "sa.json", name="vertex")],
                    "general_settings": {"master_key": MASTER}},
                   files={"sa.json": json.dumps(fake.service_account())})


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


@pytest.mark.parametrize("model", ["gem", "vertex"])
def test_chat_answer_is_priced_from_usage_metadata(gw: GatewayProcess, fake: FakeGemini, model: str,
                                                   openai_client: Callable[..., openai.OpenAI]) -> None:
    key = new_key(gw)
    fake.queue(reply="ok", usage=USAGE)
    openai_client(gw, api_key=key).chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert spend_reaching(gw, key, COST) == pytest.approx(COST)


def test_streamed_answer_is_priced_from_its_usage_chunk(gw: GatewayProcess, fake: FakeGemini,
                                                        openai_client: Callable[..., openai.OpenAI]) -> None:
    key = new_key(gw)
    fake.queue(chunks=["o", "k"], usage=USAGE)
    stream = openai_client(gw, api_key=key).chat.completions.create(
        model="gem", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True})
    assert [c for c in stream][-1].usage.prompt_tokens_details.cached_tokens == 4
    assert spend_reaching(gw, key, COST) == pytest.approx(COST)
