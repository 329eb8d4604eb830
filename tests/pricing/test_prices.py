"""The price map: built-in prices, matching dated and prefixed ids, overrides, cached tokens,
and an unpriced deployment priced through the real server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from gatehouse.pricing import Price, PriceFileError, PriceMap
from gatehouse.routing.deployment import deployments_from_config
from gatehouse.testing import FakeUpstream, upstream_model_config

MASTER = "sk-price-master"


def _deployment(**params):
    entry = {"model_name": "m", "litellm_params": params}
    return deployments_from_config([entry], source="test")[0]


def test_the_builtin_map_is_dated_and_knows_the_models_users_run() -> None:
    prices = PriceMap.builtin()
    assert prices.updated
    for model in ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "amazon.nova-pro-v1",
                  "mistral-large-latest", "deepseek-chat"):
        found = prices.lookup(model)
        assert found is not None and found.priced, model
    assert prices.lookup("gpt-4o") == Price(2.5e-6, 1.0e-5, 1.25e-6, None, prices.lookup("gpt-4o").source)


@pytest.mark.parametrize(("model", "expected"), [
    ("openai/gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("anthropic/claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
    ("bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku"),
    ("bedrock/converse/us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1"),
    ("vertex_ai/gemini-2.5-pro", "gemini-2.5-pro"),
    ("openai/fake-model", None),
    ("gpt-4o2", None),
])
def test_ids_match_exactly_or_by_longest_prefix(model: str, expected: str | None) -> None:
    prices = PriceMap.builtin()
    found = prices.lookup(model)
    assert found == (prices.lookup(expected) if expected else None)


def test_cached_prompt_tokens_cost_the_cached_price() -> None:
    price = Price(input=1.0, output=10.0, cached_input=0.1, cache_write=1.25)
    usage = {"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 60},
             "cache_creation_input_tokens": 30}
    assert price.cost(usage) == pytest.approx(10 * 1.0 + 60 * 0.1 + 30 * 1.25 + 5 * 10.0)
    assert Price(input=1.0, output=2.0).cost({"prompt_tokens": 3, "completion_tokens": 4,
                                               "prompt_tokens_details": {"cached_tokens": 3}}) == pytest.approx(11.0)
    assert price.cost(None) == 0.0


def test_deployment_prices_win_field_by_field() -> None:
    prices = PriceMap.builtin()
    mine = prices.for_deployment(_deployment(model="openai/gpt-4o", output_cost_per_token=1e-3))
    assert (mine.input, mine.output, mine.cached_input) == (2.5e-6, 1e-3, 1.25e-6)
    assert mine.source.startswith("deployment, then price map")
    unknown = prices.for_deployment(_deployment(model="openai/fake-model"))
    assert not unknown.priced and unknown.source == "unpriced"


def test_a_user_file_in_litellm_format_overrides_the_map(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"sample_spec": {"input_cost_per_token": 9},
                                "gpt-4o": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
                                           "litellm_provider": "openai"},
                                "my-model": {"input_cost_per_token": 3e-6, "output_cost_per_token": 4e-6}}))
    prices = PriceMap.load({"GATEHOUSE_PRICE_MAP_FILE": str(path)})
    assert (prices.lookup("gpt-4o").input, prices.lookup("gpt-4o").output) == (1e-6, 2e-6)
    assert prices.lookup("hosted_vllm/my-model").output == 4e-6
    assert prices.lookup("gpt-4o-mini").input == 1.5e-7  # the rest of the built-in map stays
    path.write_text(json.dumps({"bad": {"input_cost_per_token": "cheap"}}))
    with pytest.raises(PriceFileError, match="'bad'.input: must be a non-negative number"):
        PriceMap.load({"GATEHOUSE_PRICE_MAP_FILE": str(path)})


@pytest.fixture(scope="module")
def priced_gw(gateway, fake_upstream: FakeUpstream):
    config = {"model_list": [upstream_model_config(fake_upstream.url, model_name="mini", model="openai/gpt-4o-mini")],
              "general_settings": {"master_key": MASTER}}
    return gateway(config)


def test_a_deployment_without_prices_is_priced_from_the_map(priced_gw, openai_client) -> None:
    headers = {"Authorization": f"Bearer {MASTER}"}
    key = httpx.post(f"{priced_gw.base_url}/key/generate", json={}, headers=headers).json()["key"]
    answer = openai_client(priced_gw, api_key=key).chat.completions.create(
        model="mini", messages=[{"role": "user", "content": "hi"}])
    usage = answer.usage
    expected = usage.prompt_tokens * 1.5e-7 + usage.completion_tokens * 6.0e-7
    assert expected > 0
    deadline, spend = time.monotonic() + 8, 0.0
    while time.monotonic() < deadline and spend < expected - 1e-12:
        spend = httpx.get(f"{priced_gw.base_url}/key/info", params={"key": key}, headers=headers).json()["info"]["spend"]
        time.sleep(0.1)
    assert spend == pytest.approx(expected)


def test_a_broken_price_file_stops_start_up(gateway, fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    from gatehouse.testing import ServerStartError
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    config = {"model_list": [upstream_model_config(fake_upstream.url)]}
    with pytest.raises(ServerStartError, match="GATEHOUSE_PRICE_MAP_FILE"):
        gateway(config, env={"GATEHOUSE_PRICE_MAP_FILE": str(path)})
