"""One spend-log row per request, written in batches, read back through /spend/logs (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import openai
import pytest

from gatehouse.auth.keys import hash_key
from gatehouse.testing import GatewayProcess

from spend_support import CHAT_COST, IN, MASTER, by_request, new_key

HI = [{"role": "user", "content": "hi"}]


def test_a_chat_answer_is_one_row_with_who_what_and_cost(spend_gw: GatewayProcess, openai_client: Any) -> None:
    key = new_key(spend_gw, key_alias="row-key", team_id="team-a", user_id="user-a")
    raw = openai_client(spend_gw, api_key=key).chat.completions.with_raw_response.create(
        model="priced", messages=HI, user="customer-7", extra_body={"tags": ["nightly", "batch"]})
    row = by_request(spend_gw, raw.headers["x-litellm-call-id"])
    assert row["api_key"] == hash_key(key) and row["key_alias"] == "row-key"
    assert (row["team_id"], row["user"], row["end_user"]) == ("team-a", "user-a", "customer-7")
    assert (row["model_group"], row["model"], row["custom_llm_provider"]) == ("priced", "fake-model", "openai")
    assert row["model_id"] == raw.headers["x-litellm-model-id"]
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1, 4, 5)
    assert row["spend"] == pytest.approx(CHAT_COST) == pytest.approx(float(raw.headers["x-litellm-response-cost"]))
    assert row["status"] == "success" and row["error_class"] is None
    assert row["request_tags"] == ["nightly", "batch"]
    assert row["call_type"] == "completion" and row["response_id"] == raw.parse().id
    assert datetime.fromisoformat(row["startTime"]) <= datetime.fromisoformat(row["endTime"])
    assert row["request_duration_ms"] >= 0
    assert row["messages"] == {} and row["response"] == {}  # store_prompts_in_spend_logs is off


def test_a_stream_is_priced_from_the_usage_the_gateway_asked_for(spend_gw: GatewayProcess, openai_client: Any) -> None:
    key = new_key(spend_gw)
    raw = openai_client(spend_gw, api_key=key).chat.completions.with_raw_response.create(
        model="priced", messages=HI, stream=True)
    chunks = list(raw.parse())
    assert all(c.usage is None for c in chunks)  # the client did not ask for usage: it does not get it
    row = by_request(spend_gw, raw.headers["x-litellm-call-id"])
    assert row["stream"] is True and row["status"] == "success"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1, 4)
    assert row["spend"] == pytest.approx(CHAT_COST)


def test_an_upstream_error_is_a_failure_row_that_costs_nothing(spend_gw: GatewayProcess, openai_client: Any) -> None:
    key = new_key(spend_gw)
    with pytest.raises(openai.InternalServerError) as failed:
        openai_client(spend_gw, api_key=key).chat.completions.create(
            model="priced", messages=HI, extra_body={"fake_upstream": {"status": 500}})
    row = by_request(spend_gw, failed.value.response.headers["x-litellm-call-id"])
    assert row["status"] == "failure" and row["spend"] == 0.0
    assert row["error_code"] == "500" and row["error_class"]
    assert row["api_key"] == hash_key(key) and row["model_group"] == "priced"


def test_a_request_refused_before_routing_is_logged_with_its_caller(spend_gw: GatewayProcess,
                                                                      openai_client: Any) -> None:
    key = new_key(spend_gw, key_alias="bad-model")
    with pytest.raises(openai.BadRequestError) as refused:
        openai_client(spend_gw, api_key=key).chat.completions.create(model="no-such-group", messages=HI)
    row = by_request(spend_gw, refused.value.response.headers["x-litellm-call-id"])
    assert (row["status"], row["error_code"], row["key_alias"]) == ("failure", "400", "bad-model")


def test_embeddings_and_master_key_requests_are_logged(spend_gw: GatewayProcess, openai_client: Any) -> None:
    raw = openai_client(spend_gw, api_key=MASTER).embeddings.with_raw_response.create(
        model="priced", input="three words here")
    row = by_request(spend_gw, raw.headers["x-litellm-call-id"])
    assert row["call_type"] == "embeddings" and row["prompt_tokens"] == 3
    assert row["spend"] == pytest.approx(3 * IN)
    assert row["api_key"] == "litellm_proxy_master_key"  # never the master key, nor its hash
