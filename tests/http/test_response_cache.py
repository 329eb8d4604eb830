"""Response caching (``litellm_settings.cache``) through the real server and the openai SDK."""

from __future__ import annotations

import time
import uuid

import pytest

from gatehouse.testing import FakeUpstream, upstream_model_config

HOOKS = '''
from gatehouse import CustomLogger

class Marker(CustomLogger):
    async def async_post_call_success_hook(self, data, user_api_key_dict, response):
        if getattr(response, "choices", None):
            response.choices[0].message.content += " (checked)"

    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        if "forbidden" in str(data.get("messages")):
            return "not allowed"

marker = Marker()
'''


def _config(url: str, **cache_params) -> dict:
    return {
        "model_list": [upstream_model_config(url, model_name="fake")],
        "general_settings": {"master_key": "sk-cache"},
        "litellm_settings": {"cache": True, "cache_params": {"type": "local", "ttl": 600, **cache_params},
                             "callbacks": "cache_hooks.marker"},
    }


@pytest.fixture(scope="module")
def cached_gw(gateway, fake_upstream: FakeUpstream):
    return gateway(_config(fake_upstream.url), files={"cache_hooks.py": HOOKS})


def _ask(client, text: str, **extra):
    raw = client.chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": text}], **extra)
    return raw.headers, raw.parse()


def test_a_repeated_request_is_answered_from_the_cache(cached_gw, openai_client, fake_upstream):
    client, text = openai_client(cached_gw, api_key="sk-cache"), f"hello {uuid.uuid4()}"
    first_headers, first = _ask(client, text)
    second_headers, second = _ask(client, text)
    assert len(fake_upstream.requests) == 1
    assert first_headers["x-gatehouse-cache"] == "miss, stored" and second_headers["x-gatehouse-cache"] == "hit"
    assert first_headers["x-litellm-cache-key"] == second_headers["x-litellm-cache-key"]
    # post-call hooks run once on every answer, cached or not: never twice on a hit
    assert first.choices[0].message.content == second.choices[0].message.content
    assert second.choices[0].message.content.endswith(f"You said: {text} (checked)")


def test_other_parameters_are_another_entry(cached_gw, openai_client, fake_upstream):
    client, text = openai_client(cached_gw, api_key="sk-cache"), f"t {uuid.uuid4()}"
    _ask(client, text, temperature=0.1)
    headers, _ = _ask(client, text, temperature=0.9)
    assert headers["x-gatehouse-cache"] == "miss, stored" and len(fake_upstream.requests) == 2


def test_the_user_field_does_not_split_entries(cached_gw, openai_client, fake_upstream):
    client, text = openai_client(cached_gw, api_key="sk-cache"), f"u {uuid.uuid4()}"
    _ask(client, text, user="alice")
    headers, _ = _ask(client, text, user="bob")
    assert headers["x-gatehouse-cache"] == "hit" and len(fake_upstream.requests) == 1


def test_no_cache_and_no_store(cached_gw, openai_client, fake_upstream):
    client, text = openai_client(cached_gw, api_key="sk-cache"), f"c {uuid.uuid4()}"
    headers, _ = _ask(client, text, extra_body={"cache": {"no-store": True}})
    assert headers["x-gatehouse-cache"] == "miss"
    _ask(client, text)  # stored now
    headers, _ = _ask(client, text, extra_body={"cache": {"no-cache": True}})
    assert headers["x-gatehouse-cache"] == "miss, stored" and len(fake_upstream.requests) == 3
    assert all("cache" not in r.json for r in fake_upstream.requests)  # the control never reaches the provider


def test_s_maxage_refuses_older_entries(cached_gw, openai_client, fake_upstream):
    client, text = openai_client(cached_gw, api_key="sk-cache"), f"a {uuid.uuid4()}"
    _ask(client, text)
    time.sleep(0.3)
    headers, _ = _ask(client, text, extra_body={"cache": {"s-maxage": 0.1}})
    assert headers["x-gatehouse-cache"] != "hit" and len(fake_upstream.requests) == 2


def test_per_request_ttl_expires(cached_gw, openai_client, fake_upstream):
    client, text = openai_client(cached_gw, api_key="sk-cache"), f"ttl {uuid.uuid4()}"
    _ask(client, text, extra_body={"cache": {"ttl": 0.5}})
    time.sleep(0.8)
    headers, _ = _ask(client, text)
    assert headers["x-gatehouse-cache"] == "miss, stored" and len(fake_upstream.requests) == 2


def test_pre_call_hooks_run_before_the_cache(cached_gw, openai_client, fake_upstream):
    client = openai_client(cached_gw, api_key="sk-cache")
    _, reply = _ask(client, "forbidden words")
    assert reply.choices[0].message.content == "not allowed"
    assert fake_upstream.requests == []


def test_streams_are_never_cached(cached_gw, openai_client, fake_upstream):
    client, text = openai_client(cached_gw, api_key="sk-cache"), f"s {uuid.uuid4()}"
    for _ in range(2):
        chunks = list(client.chat.completions.create(
            model="fake", messages=[{"role": "user", "content": text}], stream=True))
        assert chunks
    assert len(fake_upstream.requests) == 2


def test_embeddings_are_cached(cached_gw, openai_client, fake_upstream):
    client, text = openai_client(cached_gw, api_key="sk-cache"), f"e {uuid.uuid4()}"
    first = client.embeddings.create(model="fake", input=text)
    second = client.embeddings.create(model="fake", input=text)
    assert first.data[0].embedding == second.data[0].embedding and len(fake_upstream.requests) == 1


def test_a_redis_cache_is_shared_by_two_gateways(gateway, openai_client, fake_upstream, redis_url):
    config = _config(fake_upstream.url)
    config["router_settings"] = {"redis_url": redis_url}
    one = gateway(config, files={"cache_hooks.py": HOOKS})
    two = gateway(config, files={"cache_hooks.py": HOOKS}, args=["--workers", "1"])
    text = f"shared {uuid.uuid4()}"
    _ask(openai_client(one, api_key="sk-cache"), text)
    headers, _ = _ask(openai_client(two, api_key="sk-cache"), text)
    assert headers["x-gatehouse-cache"] == "hit" and len(fake_upstream.requests) == 1


def test_bad_cache_params_stop_start_up(tmp_path):
    import subprocess
    import sys

    (tmp_path / "config.yaml").write_text(
        "model_list: []\nlitellm_settings:\n  cache: true\n  cache_params: {supported_call_types: [nope]}\n")
    done = subprocess.run([sys.executable, "-m", "gatehouse", "check-config", str(tmp_path / "config.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "litellm_settings.cache_params.supported_call_types: unknown call type(s) nope" in done.stderr
    assert "Traceback" not in done.stderr
