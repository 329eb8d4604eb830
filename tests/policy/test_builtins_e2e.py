"""Built-in hooks through the real server: ``nova_task_router`` with tag-routed
embeddings deployments (seed 002), and the parallel-request limiter on virtual
keys, its counters in Redis shared by two gateway processes that also share one
PostgreSQL key database. The DualCache hooks receive is shared the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import re
import secrets
import threading
import time
from typing import Any, Iterator

import openai
import pytest
import redis
from policy_support import (CALLBACKS_PY, MASTER_KEY, Events, chat_body, model_entry, new_id, post, with_id)

from gatehouse.testing import GatewayProcess

PG = "postgresql://postgres@127.0.0.1:5432"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
NOVA = "nova-embeddings-v1"
NOVA_DEPLOYMENTS = {  # backend → tags (seed 002's three deployments)
    "nova-embeddings-v1-retrieval": ["retrieval", "retrieval.query", "retrieval.passage"],
    "nova-embeddings-v1-text-matching": ["text-matching"],
    "nova-embeddings-v1-code": ["code", "code.query", "code.passage"],
}
RESET_AT = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


def _admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG + "/postgres", timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result()


def builtins_config(upstream_url: str, database_url: str) -> dict[str, Any]:
    nova = [model_entry(upstream_url, NOVA, backend, tags=tags) for backend, tags in NOVA_DEPLOYMENTS.items()]
    return {
        "model_list": [model_entry(upstream_url, "fake", "fake-model"), *nova],
        "router_settings": {"enable_tag_filtering": True, "redis_host": REDIS_HOST, "redis_port": REDIS_PORT},
        "litellm_settings": {"callbacks": ["nova_task_router", "custom_callbacks.first"]},
        "general_settings": {"master_key": MASTER_KEY, "database_url": database_url},
        # Runs only when a request names it; unreachable, so it fails closed when it runs.
        "guardrails": [{"guardrail_name": "unreachable-gate", "litellm_params": {
            "guardrail": "generic_guardrail_api", "mode": "pre_call", "api_base": "http://127.0.0.1:9"}}],
    }


@pytest.fixture(scope="module")
def replicas(fake_upstream) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    """Two gateway processes: one config, one PostgreSQL database, one Redis."""
    name = f"gatehouse_policy_{secrets.token_hex(6)}"
    try:
        _admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # any failure here means "no usable PostgreSQL"
        pytest.fail(f"PostgreSQL at {PG} is not usable: {exc!r}; start it with scripts/services.sh", pytrace=False)
    config = builtins_config(fake_upstream.url, f"{PG}/{name}")
    env = {"LITELLM_RATE_LIMIT_WINDOW_SIZE": "600"}
    a = GatewayProcess(config, env=env, files={"custom_callbacks.py": CALLBACKS_PY})
    b = GatewayProcess(config, env=env, files={"custom_callbacks.py": CALLBACKS_PY})
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_keys() -> Iterator[list[str]]:
    """Key patterns the tests created in Redis; deleted at the end."""
    patterns: list[str] = []
    yield patterns
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    for pattern in patterns:
        keys = list(client.scan_iter(match=pattern))
        if keys:
            client.delete(*keys)
    client.close()


def generate_key(gw: GatewayProcess, redis_keys: list[str], **limits: Any) -> tuple[str, str]:
    response = post(gw.base_url, "/key/generate", limits)
    assert response.status_code == 200, response.text
    key = response.json()["key"]
    hashed = hashlib.sha256(key.encode()).hexdigest()
    redis_keys.append("{api_key:%s}*" % hashed)
    return key, hashed


# -- nova_task_router (seed 002) --------------------------------------------------------------------

@pytest.mark.parametrize("task,backend", [
    ("retrieval.query", "nova-embeddings-v1-retrieval"),
    ("text-matching", "nova-embeddings-v1-text-matching"),
    ("code.passage", "nova-embeddings-v1-code"),
])
def test_task_becomes_a_tag_that_picks_the_deployment(replicas, openai_client, fake_upstream, task, backend):
    a, _ = replicas
    call_id = new_id()
    result = openai_client(a).embeddings.create(model=NOVA, input=["test query"], extra_headers=with_id(call_id),
                                                extra_body={"task": task})
    assert len(result.data) == 1
    assert [r.json["model"] for r in fake_upstream.requests] == [backend]
    assert fake_upstream.requests[0].json["task"] == task  # Nova reads it
    # The user callback listed after the built-in sees the tag it added (config order).
    seen = Events(a.dir / "events.jsonl").of(call_id, "pre_call", "first")[0]
    assert seen["tags"] == [task] and seen["task"] == task


def test_a_task_no_deployment_serves_is_refused(replicas):
    a, _ = replicas
    response = post(a.api_base, "/embeddings", {"model": NOVA, "input": ["x"], "task": "classification"})
    assert response.status_code == 401
    assert "Not allowed to access model due to tags configuration" in response.json()["error"]["message"]


# -- the rate limiter ---------------------------------------------------------------------------------

def test_rpm_limit_holds_across_two_gateways(replicas, redis_keys, fake_upstream):
    a, b = replicas
    key, hashed = generate_key(a, redis_keys, rpm_limit=1)
    first = post(a.api_base, "/chat/completions", chat_body("one"), key=key)
    assert first.status_code == 200, first.text
    assert first.headers["x-ratelimit-api_key-remaining-requests"] == "0"
    assert first.headers["x-ratelimit-api_key-limit-requests"] == "1"
    assert first.headers["x-litellm-key-rpm-limit"] == "1"

    call_id = new_id()
    second = post(b.api_base, "/chat/completions", chat_body("two"), key=key, headers=with_id(call_id))
    assert second.status_code == 429, second.text
    error = second.json()["error"]
    assert re.fullmatch(
        rf"Rate limit exceeded for api_key: {hashed}\. Limit type: requests\. Current limit: 1, Remaining: 0\. "
        rf"Limit resets at: {RESET_AT}", error["message"]), error["message"]
    assert (error["type"], error["param"], error["code"]) == ("throttling_error", None, "429")
    assert int(second.headers["retry-after"]) >= 1
    assert second.headers["rate_limit_type"] == "requests"
    assert re.fullmatch(RESET_AT, second.headers["reset_at"])
    assert len(fake_upstream.requests) == 1
    # The limiter runs before user hooks: the refused request cost no user pre-call hook.
    b_events = Events(b.dir / "events.jsonl")
    assert b_events.of(call_id, "pre_call") == []
    assert b_events.of(call_id, "moderation") == []
    assert [f["status"] for f in b_events.of(call_id, "failure")] == [429]
    # Another key is not affected.
    assert post(b.api_base, "/chat/completions", chat_body("master")).status_code == 200


def test_the_limiter_runs_before_guardrails(replicas, redis_keys):
    a, _ = replicas
    guarded = chat_body("guarded", guardrails=["unreachable-gate"])
    # The guardrail fails closed whenever it runs...
    failed = post(a.api_base, "/chat/completions", guarded)
    assert failed.status_code == 500 and "Generic Guardrail API failed" in failed.json()["error"]["message"]
    # ...but a request the limiter refuses never reaches it.
    key, _ = generate_key(a, redis_keys, rpm_limit=1)
    assert post(a.api_base, "/chat/completions", chat_body("uses the one request"), key=key).status_code == 200
    refused = post(a.api_base, "/chat/completions", guarded, key=key)
    assert refused.status_code == 429, refused.text


def test_max_parallel_requests_across_two_gateways_and_the_slot_is_released(replicas, redis_keys, fake_upstream):
    a, b = replicas
    key, hashed = generate_key(a, redis_keys, max_parallel_requests=1)
    slow = chat_body("slow", fake_upstream={"delay": 1.0})
    outcome: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: outcome.update(
        first=post(a.api_base, "/chat/completions", slow, key=key)))
    runner.start()
    try:
        assert fake_upstream.wait_until(lambda: len(fake_upstream.requests) == 1, timeout=5)
        refused = post(b.api_base, "/chat/completions", chat_body("meanwhile"), key=key)
    finally:
        runner.join()
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["message"].startswith(
        f"Rate limit exceeded for api_key: {hashed}. Limit type: max_parallel_requests. Current limit: 1")
    assert refused.headers["rate_limit_type"] == "max_parallel_requests"
    assert outcome["first"].status_code == 200
    assert outcome["first"].headers["x-ratelimit-api_key-limit-max_parallel_requests"] == "1"
    # The slot is given back once the first request is done (released in the background).
    deadline = time.monotonic() + 3
    while (again := post(b.api_base, "/chat/completions", chat_body("after"), key=key)).status_code == 429:
        assert time.monotonic() < deadline, f"the slot was never released: {again.text}"
        time.sleep(0.05)
    assert again.status_code == 200, again.text


def test_a_key_over_its_limit_gets_429_from_the_sdk(replicas, openai_client, redis_keys):
    a, _ = replicas
    key, _ = generate_key(a, redis_keys, rpm_limit=1)
    client = openai_client(a, api_key=key)
    client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "one"}])
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "two"}])
    assert err.value.body["type"] == "throttling_error"


# -- the DualCache handed to hooks, shared through Redis ----------------------------------------------

def test_a_value_set_by_a_hook_in_one_gateway_is_read_in_the_other(replicas, openai_client, redis_keys):
    a, b = replicas
    name = f"policy-test-{new_id()}"
    redis_keys.append(f"*{name}*")
    openai_client(a).chat.completions.create(
        model="fake", messages=[{"role": "user", "content": f"first:cacheset={name}=shared-value"}])
    reply = openai_client(b).chat.completions.create(
        model="fake", messages=[{"role": "user", "content": f"first:cacheget={name}"}])
    assert reply.choices[0].message.content == "cached=shared-value"
    missing = openai_client(b).chat.completions.create(
        model="fake", messages=[{"role": "user", "content": f"first:cacheget={name}-other"}])
    assert missing.choices[0].message.content == "cached=None"
