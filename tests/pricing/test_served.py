"""Answers priced whatever shape their usage has: OpenAI chat, Anthropic Messages, OpenAI Responses."""

from __future__ import annotations

import pytest

from gatehouse.pricing import Price, Served, answer_cost

PRICE = Price(input=1.0, output=10.0, cached_input=0.1, cache_write=2.0)
SERVED = Served("d1", "group", "openai", "m", None, PRICE)


@pytest.mark.parametrize(("usage", "cost"), [
    ({"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 40}},
     60 * 1.0 + 40 * 0.1 + 5 * 10.0),
    ({"input_tokens": 60, "output_tokens": 5, "cache_read_input_tokens": 40, "cache_creation_input_tokens": 10},
     60 * 1.0 + 40 * 0.1 + 10 * 2.0 + 5 * 10.0),  # Anthropic: input_tokens leaves the cache out
    ({"input_tokens": 100, "output_tokens": 5, "input_tokens_details": {"cached_tokens": 40}},
     60 * 1.0 + 40 * 0.1 + 5 * 10.0),  # Responses: input_tokens counts the cached ones
])
def test_every_usage_shape_is_priced(usage: dict, cost: float) -> None:
    assert answer_cost(SERVED, {"usage": usage}) == pytest.approx(cost)


def test_no_deployment_or_no_usage_costs_nothing() -> None:
    assert answer_cost(None, {"usage": {"prompt_tokens": 1}}) == 0.0  # a response-cache hit
    assert answer_cost(SERVED, {"id": "x"}) == 0.0
    assert answer_cost(SERVED, None) == 0.0
