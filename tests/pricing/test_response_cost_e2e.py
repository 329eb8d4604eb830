"""``x-litellm-response-cost`` on every answer, through the real server and the openai SDK.

The fake upstream counts words: "hi" is 1 prompt token, its answer "Hello! You said: hi" 4
completion tokens. At 0.001 / 0.002 USD per token a chat answer costs 0.009.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from gatehouse.testing import FakeUpstream, upstream_model_config

MASTER = "sk-cost-master"
IN, OUT = 0.001, 0.002
CHAT_COST = 1 * IN + 4 * OUT


@pytest.fixture(scope="module")
def cost_gw(gateway: Any, fake_upstream: FakeUpstream) -> Any:
    return gateway({
        "model_list": [
            upstream_model_config(fake_upstream.url, model_name="priced", input_cost_per_token=IN,
                                  output_cost_per_token=OUT),
            upstream_model_config(fake_upstream.url, model_name="gpt4o", model="openai/gpt-4o"),
            upstream_model_config(fake_upstream.url, model_name="unpriced", model="openai/no-such-price"),
        ],
        "general_settings": {"master_key": MASTER},
    })


def _cost(raw: Any) -> float:
    return float(raw.headers["x-litellm-response-cost"])


def test_a_chat_answer_carries_its_cost(cost_gw: Any, openai_client: Any) -> None:
    raw = openai_client(cost_gw, api_key=MASTER).chat.completions.with_raw_response.create(
        model="priced", messages=[{"role": "user", "content": "hi"}])
    assert _cost(raw) == pytest.approx(CHAT_COST)
    assert raw.parse().usage.completion_tokens == 4


def test_the_built_in_price_map_prices_a_known_model(cost_gw: Any, openai_client: Any) -> None:
    raw = openai_client(cost_gw, api_key=MASTER).chat.completions.with_raw_response.create(
        model="gpt4o", messages=[{"role": "user", "content": "hi"}])
    assert _cost(raw) == pytest.approx(1 * 2.5e-6 + 4 * 1e-5)  # gpt-4o in the built-in map


def test_a_model_without_a_price_costs_zero(cost_gw: Any, openai_client: Any) -> None:
    raw = openai_client(cost_gw, api_key=MASTER).chat.completions.with_raw_response.create(
        model="unpriced", messages=[{"role": "user", "content": "hi"}])
    assert _cost(raw) == 0.0


def test_text_completions_and_embeddings_carry_their_cost(cost_gw: Any, openai_client: Any) -> None:
    client = openai_client(cost_gw, api_key=MASTER)
    text = client.completions.with_raw_response.create(model="priced", prompt="hi there")
    usage = text.parse().usage
    assert _cost(text) == pytest.approx(usage.prompt_tokens * IN + usage.completion_tokens * OUT)
    embedded = client.embeddings.with_raw_response.create(model="priced", input="three words here")
    assert _cost(embedded) == pytest.approx(embedded.parse().usage.prompt_tokens * IN)
    assert _cost(embedded) > 0


def test_an_error_costs_zero(cost_gw: Any, openai_client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        openai_client(cost_gw, api_key=MASTER).chat.completions.create(
            model="no-such-group", messages=[{"role": "user", "content": "hi"}])
    assert float(refused.value.response.headers["x-litellm-response-cost"]) == 0.0


def test_a_stream_has_no_cost_header(cost_gw: Any, openai_client: Any) -> None:
    """Headers go out before the first chunk; a stream's cost is in its spend log row and logging hooks."""
    raw = openai_client(cost_gw, api_key=MASTER).chat.completions.with_raw_response.create(
        model="priced", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert "x-litellm-response-cost" not in raw.headers
    assert [c for c in raw.parse()]
