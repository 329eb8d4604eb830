"""Spend tracking and key budgets through the real server and the openai SDK.

The fake upstream's usage counts words: "hi" → 1 prompt token, "Hello! You said: hi" →
4 completion tokens. At 0.001 / 0.002 USD per token one such answer costs 0.009.
"""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream, upstream_model_config

MASTER = "sk-spend-master"
COST = 1 * 0.001 + 4 * 0.002


@pytest.fixture(scope="module")
def spend_gw(gateway, fake_upstream: FakeUpstream):
    config = {
        "model_list": [
            upstream_model_config(fake_upstream.url, model_name="priced", input_cost_per_token=0.001,
                                  output_cost_per_token=0.002),
            upstream_model_config(fake_upstream.url, model_name="free"),
        ],
        "general_settings": {"master_key": MASTER},
    }
    return gateway(config)


def _key(gw, **fields) -> str:
    response = httpx.post(f"{gw.base_url}/key/generate", json=fields, headers={"Authorization": f"Bearer {MASTER}"})
    assert response.status_code == 200, response.text
    return response.json()["key"]


def _spend(gw, key: str) -> float:
    info = httpx.get(f"{gw.base_url}/key/info", params={"key": key}, headers={"Authorization": f"Bearer {MASTER}"})
    return info.json()["info"]["spend"]


def _wait_for_spend(gw, key: str, at_least: float) -> float:
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        spend = _spend(gw, key)
        if spend >= at_least - 1e-9:
            return spend
        time.sleep(0.1)
    return _spend(gw, key)


def _hi(client, model: str = "priced"):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def test_answers_are_priced_into_the_key_spend(spend_gw, openai_client):
    key = _key(spend_gw)
    _hi(openai_client(spend_gw, api_key=key))
    assert _wait_for_spend(spend_gw, key, COST) == pytest.approx(COST)


def test_a_key_over_its_budget_is_refused(spend_gw, openai_client):
    key = _key(spend_gw, max_budget=0.015, key_alias="small-budget")
    client = openai_client(spend_gw, api_key=key)
    _hi(client)
    _wait_for_spend(spend_gw, key, COST)
    _hi(client)  # 0.009 spent < 0.015: still allowed
    _wait_for_spend(spend_gw, key, 2 * COST)
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        _hi(client)
    assert refused.value.body["type"] == "budget_exceeded"
    message = refused.value.body["message"]  # LiteLLM's wording
    assert message.startswith(f"Budget has been exceeded! Key=small-budget (sk-...{key[-4:]}) Current cost: 0.01")
    assert message.endswith(", Max budget: 0.015")
    _hi(openai_client(spend_gw, api_key=MASTER))  # the master key has no budget


def test_unpriced_models_cost_nothing(spend_gw, openai_client):
    key = _key(spend_gw, max_budget=0.001)
    client = openai_client(spend_gw, api_key=key)
    for _ in range(3):
        _hi(client, model="free")
    time.sleep(2.5)  # past one flush interval
    assert _spend(spend_gw, key) == 0
