"""``general_settings.pass_through_endpoints`` through the real gateway.

Routes to the fake upstream and the fake Cohere: headers added from the
config (``os.environ/`` read), ``cost_per_request`` charged, guardrails run
only on the route that opts in (even a ``default_on`` one), their texts at the
route's ``request_fields``; post_call guardrails check JSON answers and refuse
streams; ``auth: false``; an operator's exact path replaces a unified endpoint;
``litellm_user_api_key`` names the header carrying the Gatehouse key; bad
entries stop start-up naming the key.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess
from gatehouse.testing.fake_cohere import FakeCohere
from gatehouse.testing.fake_guardrail import FakeGuardrail, Reply

sys.path.insert(0, str(Path(__file__).parents[1] / "providers"))
from translating_support import ISOLATED, check_config, guardrail  # noqa: E402

MASTER = "sk-custom-pass-master"
BRIA_KEY, CO_KEY = "bria-secret-token", "co-custom-key"
HI = [{"role": "user", "content": "hi secret"}]
HOOK = '''
from gatehouse.policy.custom_logger import CustomLogger


class Native(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        if call_type != "pass_through_endpoint":
            return None
        if data.get("refuse"):
            return "refused by policy"
        if data.get("model") == "rename-me":  # the provider-native body, as sent
            data["model"] = "fake-model"
        return data


handler = Native()
'''


@pytest.fixture(scope="module")
def cohere_fake() -> Iterator[FakeCohere]:
    server = FakeCohere(require_key=CO_KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def guard() -> Iterator[FakeGuardrail]:
    server = FakeGuardrail()
    server.start_in_thread()
    yield server
    server.stop_thread()


def _guard_answer(body: Any) -> Reply:
    texts = body["texts"]
    if body.get("input_type") == "response":
        return Reply("BLOCKED", blocked_reason="no secrets out") if any("secret" in t for t in texts) else Reply()
    return Reply("GUARDRAIL_INTERVENED", texts=[t.replace("secret", "[X]") for t in texts])


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream, cohere_fake: FakeCohere,
       guard: FakeGuardrail) -> GatewayProcess:
    cohere_fake.reset()
    guard.reset()
    guard.default = _guard_answer
    return gateway({
        "model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/m"}}],
        "general_settings": {"master_key": MASTER, "pass_through_endpoints": [
            {"path": "/bria", "target": fake_upstream.url + "/chat/completions", "cost_per_request": 0.25,
             "headers": {"Authorization": "Bearer os.environ/BRIA_KEY"}},
            {"path": "/guarded", "target": fake_upstream.url, "include_subpath": True, "forward_headers": True,
             "headers": {"Authorization": "Bearer os.environ/BRIA_KEY"},
             "guardrails": {"mask": {"request_fields": ["messages[*].content"]}, "out": None}},
            {"path": "/open-models", "target": fake_upstream.url + "/models", "auth": False},
            {"path": "/v1/rerank", "target": cohere_fake.url + "/v2/rerank",
             "headers": {"Authorization": "bearer os.environ/CO_KEY", "litellm_user_api_key": "x-my-key"}},
        ]},
        "guardrails": [guardrail("mask", guard.url, "pre_call", default_on=True),
                       guardrail("out", guard.url, "post_call")],
        "litellm_settings": {"callbacks": ["hooks.handler"]},
    }, env={**ISOLATED, "BRIA_KEY": BRIA_KEY, "CO_KEY": CO_KEY}, files={"hooks.py": HOOK})


def new_key(gw: GatewayProcess) -> str:
    response = httpx.post(f"{gw.base_url}/key/generate", json={}, headers={"Authorization": f"Bearer {MASTER}"})
    return str(response.json()["key"])


def test_headers_from_the_config_and_a_cost_per_request(gw: GatewayProcess, fake_upstream: FakeUpstream,
                                                        guard: FakeGuardrail) -> None:
    key = new_key(gw)
    for _ in range(2):
        response = httpx.post(f"{gw.base_url}/bria", json={"model": "m", "messages": HI},
                              headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert response.status_code == 200, response.text
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.headers["Authorization"] == f"Bearer {BRIA_KEY}"
    assert sent.json == {"model": "m", "messages": HI}  # as sent: this route has no guardrails
    assert not guard.requests  # not even the default_on one: guardrails are opt-in per route
    deadline, spend = time.monotonic() + 8, 0.0
    while time.monotonic() < deadline and spend < 0.5:
        info = httpx.get(f"{gw.base_url}/key/info", params={"key": key}, headers={"Authorization": f"Bearer {MASTER}"})
        spend = info.json()["info"]["spend"]
        time.sleep(0.1)
    assert spend == pytest.approx(0.5)


def test_pre_call_hooks_see_the_native_body(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    auth = {"Authorization": f"Bearer {MASTER}"}
    refused = httpx.post(f"{gw.base_url}/bria", json={"refuse": True, "messages": HI}, headers=auth, timeout=30)
    assert refused.status_code == 400 and refused.json()["error"]["message"] == "refused by policy"
    assert not fake_upstream.requests
    renamed = httpx.post(f"{gw.base_url}/bria", json={"model": "rename-me", "messages": HI}, headers=auth, timeout=30)
    assert renamed.status_code == 200 and fake_upstream.requests[-1].json == {"model": "fake-model", "messages": HI}


def test_a_client_that_leaves_closes_the_upstream_stream(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(chunk_delay=0.2, chunks=["a "] * 50)
    with httpx.stream("POST", f"{gw.base_url}/guarded/chat/completions", timeout=30,
                      json={"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "stream": True},
                      headers={"Authorization": f"Bearer {MASTER}"}) as response:
        assert response.status_code == 400  # post_call guardrails on this route: no streams
    fake_upstream.queue(chunk_delay=0.2, chunks=["a "] * 50)
    with httpx.stream("POST", f"{gw.base_url}/bria", timeout=30, headers={"Authorization": f"Bearer {MASTER}"},
                      json={"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        next(response.iter_raw())
    assert fake_upstream.wait_until(lambda: fake_upstream.cancelled == 1, timeout=10)
    assert fake_upstream.completed == 0


def test_a_subpath_that_is_not_served_is_a_404(gw: GatewayProcess) -> None:
    response = httpx.post(f"{gw.base_url}/bria/more", json={}, headers={"Authorization": f"Bearer {MASTER}"})
    assert response.status_code == 404


def test_guardrails_on_a_route_that_opts_in(gw: GatewayProcess, fake_upstream: FakeUpstream,
                                            guard: FakeGuardrail) -> None:
    client = openai.OpenAI(base_url=f"{gw.base_url}/guarded", api_key=MASTER, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="fake-model", messages=HI,
                                                           extra_headers={"x-trace": "t1"})
    answer = raw.parse()
    assert raw.headers["x-litellm-applied-guardrails"] == "mask,out"
    assert guard.requests[0].body["texts"] == ["hi secret"]  # the route's request_fields only (not the model)
    sent = fake_upstream.requests[-1]
    assert sent.json["messages"] == [{"role": "user", "content": "hi [X]"}]
    assert sent.headers["x-trace"] == "t1" and sent.headers["Authorization"] == f"Bearer {BRIA_KEY}"
    assert answer.choices[0].message.content == "Hello! You said: hi [X]"


def test_post_call_guardrails_check_the_answer(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(content="the secret is out")
    client = openai.OpenAI(base_url=f"{gw.base_url}/guarded", api_key=MASTER, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "tell me"}])
    assert "no secrets out" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as streamed:
        client.chat.completions.create(model="fake-model", messages=HI, stream=True)
    assert "without streaming" in streamed.value.body["message"]


def test_a_route_without_auth_serves_anyone(gw: GatewayProcess) -> None:
    response = httpx.get(f"{gw.base_url}/open-models", timeout=30)
    assert response.status_code == 200 and response.json()["data"][0]["id"] == "fake-model"


def test_an_exact_path_replaces_the_unified_endpoint(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    body = {"model": "rerank-v3.5", "query": "capital", "documents": ["a capital", "a river"]}
    response = httpx.post(f"{gw.base_url}/v1/rerank", json=body, headers={"x-my-key": MASTER}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["index"] == 0
    sent = cohere_fake.requests[-1]
    assert sent.headers["Authorization"] == f"bearer {CO_KEY}" and "x-my-key" not in sent.headers
    refused = httpx.post(f"{gw.base_url}/v1/rerank", json=body, headers={"x-my-key": "sk-wrong"}, timeout=30)
    assert refused.status_code == 401


@pytest.mark.parametrize("entry,key,words", [
    ({"path": "/x"}, "pass_through_endpoints[0].target", "http(s) URL"),
    ({"path": "x", "target": "http://127.0.0.1:1"}, "pass_through_endpoints[0].path", "starting with /"),
    ({"path": "/x", "target": "http://127.0.0.1:1", "guardrails": ["nope"]}, "pass_through_endpoints[0].guardrails",
     "unknown guardrail 'nope'"),
    ({"path": "/x", "target": "http://127.0.0.1:1", "headers": {"k": "bearer os.environ/GATEHOUSE_UNSET_VAR"}},
     "pass_through_endpoints[0].headers.k", "not set"),
    ({"path": "/x", "target": "http://127.0.0.1:1", "guardrails": {"g": {"request_fields": ["a[b"]}}},
     "pass_through_endpoints[0].guardrails.g.request_fields", "cannot read"),
])
def test_bad_entries_stop_start_up(tmp_path: Path, entry: dict[str, Any], key: str, words: str) -> None:
    config = {"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/m"}}],
              "general_settings": {"pass_through_endpoints": [entry]},
              "guardrails": [guardrail("g", "http://127.0.0.1:1", "pre_call")]}
    result = check_config(config, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert key in result.stderr and words in result.stderr
