"""Budgets, TPM and parallel limits count every request, streamed or not, whatever ids it sends.

Issue 8 items 4 and 12, through the real server and the openai SDK:

- streams without ``stream_options.include_usage`` used to record no usage
  (8 streams against a $0.03 budget: spend 0.0). The gateway now asks the
  upstream for usage, keeps the usage-only chunk from a client that did not
  ask for it, and estimates when the upstream still sends none;
- accounting was keyed by the client's ``x-litellm-call-id``: ten concurrent
  requests sharing one were counted once, and a ``max_parallel_requests: 2``
  key lost a slot for good. Call ids are now the gateway's own.

The fake upstream's usage counts words: "hi" → 1 prompt token, "Hello! You
said: hi" → 4 completion tokens, 5 in all; at 0.001 / 0.002 USD per token one
answer costs 0.009.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream, upstream_model_config

MASTER = "sk-accounting-master"
COST = 1 * 0.001 + 4 * 0.002
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def acct_gw(gateway, fake_upstream: FakeUpstream):
    config = {
        "model_list": [upstream_model_config(fake_upstream.url, model_name="priced", input_cost_per_token=0.001,
                                              output_cost_per_token=0.002)],
        "general_settings": {"master_key": MASTER},
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
    }
    return gateway(config)


def _key(gw, **fields: Any) -> str:
    response = httpx.post(f"{gw.base_url}/key/generate", json=fields, headers={"Authorization": f"Bearer {MASTER}"})
    assert response.status_code == 200, response.text
    return response.json()["key"]


def _spend(gw, key: str) -> float:
    info = httpx.get(f"{gw.base_url}/key/info", params={"key": key}, headers={"Authorization": f"Bearer {MASTER}"})
    return float(info.json()["info"]["spend"])


def _wait(predicate, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _stream(client: openai.OpenAI, **kw: Any) -> list[Any]:
    return list(client.chat.completions.create(model="priced", messages=HI, stream=True, **kw))


# -- item 4: streams are counted -------------------------------------------------------


def test_streams_without_include_usage_are_charged_to_the_budget(acct_gw, openai_client, fake_upstream):
    key = _key(acct_gw, max_budget=0.03)
    client = openai_client(acct_gw, api_key=key)
    refused = 0
    for _ in range(8):
        try:
            _stream(client)
        except openai.UnprocessableEntityError:
            refused += 1
        _wait(lambda: _spend(acct_gw, key) > 0, timeout=3)
    assert _wait(lambda: _spend(acct_gw, key) >= 0.03 - 1e-9)
    assert refused >= 1  # the budget was reached and enforced
    assert fake_upstream.requests[0].json["stream_options"] == {"include_usage": True}


def test_a_client_that_did_not_ask_gets_no_usage_chunk(acct_gw, openai_client):
    client = openai_client(acct_gw, api_key=_key(acct_gw))
    chunks = _stream(client)
    assert all(chunk.choices for chunk in chunks)  # no usage-only chunk
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello! You said: hi"


def test_a_client_that_asked_still_gets_its_usage_chunk(acct_gw, openai_client):
    key = _key(acct_gw)
    chunks = _stream(openai_client(acct_gw, api_key=key), stream_options={"include_usage": True})
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 5
    assert _wait(lambda: _spend(acct_gw, key) > 0) and _spend(acct_gw, key) == pytest.approx(COST)


def test_raw_relay_drops_only_the_usage_event(acct_gw):
    key = _key(acct_gw)
    body = {"model": "priced", "messages": HI, "stream": True}
    with httpx.stream("POST", f"{acct_gw.base_url}/v1/chat/completions", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key}"}) as response:
        raw = response.read().decode()
    events = [e for e in raw.split("\n\n") if e.strip()]
    assert events[-1] == "data: [DONE]"
    assert all('"usage":{' not in e for e in events)
    assert all('"choices":[]' not in e for e in events)
    assert "".join(e.split('"content":"')[1].split('"')[0] for e in events if '"content":"' in e) == "Hello! You said: hi"
    assert _wait(lambda: _spend(acct_gw, key) > 0) and _spend(acct_gw, key) == pytest.approx(COST)


def test_an_upstream_that_sends_no_usage_is_charged_by_estimate(acct_gw, openai_client, fake_upstream):
    key = _key(acct_gw)
    fake_upstream.set_default(no_usage=True)
    chunks = _stream(openai_client(acct_gw, api_key=key), stream_options={"include_usage": True})
    assert all(chunk.choices for chunk in chunks)  # the upstream sent none: nothing to relay
    assert _wait(lambda: _spend(acct_gw, key) > 0) > 0


def test_streams_count_against_a_tpm_limit(acct_gw, openai_client):
    key = _key(acct_gw, tpm_limit=10)
    client = openai_client(acct_gw, api_key=key)
    _stream(client)  # 5 tokens
    _stream(client)  # 10: the window is full once both are counted
    with pytest.raises(openai.RateLimitError) as info:
        _wait(lambda: _stream(client) and False, timeout=5)
    assert "Limit type: tokens" in info.value.body["message"]


# -- item 12: accounting per request, whatever id the client sends ----------------------


async def _concurrent(gw, key: str, n: int, call_id: str | None) -> list[int]:
    headers = {"Authorization": f"Bearer {key}", **({"x-litellm-call-id": call_id} if call_id else {})}
    async with httpx.AsyncClient(timeout=30) as client:
        async def one() -> int:
            response = await client.post(f"{gw.base_url}/v1/chat/completions", headers=headers,
                                         json={"model": "priced", "messages": HI})
            return response.status_code
        return list(await asyncio.gather(*(one() for _ in range(n))))


async def test_a_shared_call_id_does_not_lose_a_parallel_slot(acct_gw, fake_upstream):
    key = _key(acct_gw, max_parallel_requests=2)
    fake_upstream.set_default(delay=1.0)
    statuses = await _concurrent(acct_gw, key, 10, "same-id")
    assert set(statuses) <= {200, 429} and 200 in statuses
    fake_upstream.set_default(delay=0.3)
    deadline = time.monotonic() + 10
    while True:  # slots are given back in the background, a moment after each answer
        pair = await _concurrent(acct_gw, key, 2, "same-id")
        if pair == [200, 200] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert pair == [200, 200]  # both slots are free again: none was lost


async def test_a_shared_call_id_counts_every_requests_tokens(acct_gw, fake_upstream):
    key = _key(acct_gw, tpm_limit=1000)
    assert await _concurrent(acct_gw, key, 10, "shared") == [200] * 10

    def remaining() -> int | None:  # a request to no model: counted by the limiter, adds no tokens
        response = httpx.post(f"{acct_gw.base_url}/v1/chat/completions", json={"model": "nope", "messages": HI},
                              headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert response.status_code == 400, response.text
        left = int(response.headers["x-ratelimit-api_key-remaining-tokens"])
        return left if left <= 1000 - 50 else None

    assert _wait(remaining, timeout=5) == 950  # 10 × 5 tokens were counted, not 5
