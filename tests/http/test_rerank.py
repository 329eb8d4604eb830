"""``/v1/rerank`` (and ``/rerank``, ``/v2/rerank``) through the real gateway, in Cohere's shape.

The ``cohere`` SDK (``ClientV2.rerank``) and plain HTTP call the gateway;
``cohere/`` deployments reach the fake Cohere's ``/v2/rerank``, OpenAI-compatible
rerank servers (``hosted_vllm/``, ``jina_ai/``, ``openai/`` with ``api_base``, and
text-embeddings-inference as ``huggingface/``) reach the fake upstream's ``/rerank``.
Guardrails see the query and the documents; spend is priced by search units or tokens.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import cohere
import httpx
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess
from gatehouse.testing.fake_cohere import FakeCohere
from gatehouse.testing.fake_guardrail import FakeGuardrail, mask

sys.path.insert(0, str(Path(__file__).parents[1] / "providers"))
from translating_support import ISOLATED, guardrail  # noqa: E402

MASTER = "sk-rerank-master-4411"
CO_KEY = "co-rerank-key-19"
DOCS = ["Carson City is the capital of Nevada", "Washington DC is the capital of the United States",
        "Capital punishment exists in the United States"]
QUERY = "capital of the United States"
HOOK = '''
from gatehouse.policy.custom_logger import CustomLogger


class Refuse(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        if call_type == "rerank" and data.get("query") == "refuse me":
            return "not today"
        return None


handler = Refuse()
'''


@pytest.fixture(scope="module")
def cohere_fake() -> Iterator[FakeCohere]:
    server = FakeCohere(require_key=CO_KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module")
def guard() -> Iterator[FakeGuardrail]:
    server = FakeGuardrail(default=mask("secret"))
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], cohere_fake: FakeCohere, fake_upstream: FakeUpstream,
       guard: FakeGuardrail) -> GatewayProcess:
    cohere_fake.reset()
    root = fake_upstream.url.removesuffix("/v1")

    def entry(name: str, model: str, **params: Any) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {"model": model, **params}}
    return gateway({
        "model_list": [
            entry("rerank-cohere", "cohere/rerank-v3.5", api_base=cohere_fake.url, api_key=CO_KEY),
            entry("rerank-vllm", "hosted_vllm/BAAI/bge-reranker-v2-m3", api_base=fake_upstream.url),
            entry("rerank-jina", "jina_ai/jina-reranker-v2-base-multilingual", api_base=fake_upstream.url,
                  api_key="jina-key"),
            entry("rerank-openai", "openai/my-reranker", api_base=fake_upstream.url, api_key="sk-up"),
            entry("rerank-tei", "huggingface/BAAI/bge-reranker-base", api_base=root),
            entry("rerank-mock", "mock/reranker"),
            entry("chat-only", "deepseek/deepseek-chat", api_key="ds", api_base=fake_upstream.url),
        ],
        "general_settings": {"master_key": MASTER},
        "litellm_settings": {"callbacks": ["hooks.handler"]},
        "guardrails": [guardrail("mask-pre", guard.url, "pre_call")],
    }, env=ISOLATED, files={"hooks.py": HOOK})


def new_key(gw: GatewayProcess) -> str:
    response = httpx.post(f"{gw.base_url}/key/generate", json={}, headers={"Authorization": f"Bearer {MASTER}"})
    assert response.status_code == 200, response.text
    return str(response.json()["key"])


def post(gw: GatewayProcess, path: str, body: dict[str, Any], key: str = MASTER) -> httpx.Response:
    return httpx.post(gw.base_url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def spend_reaching(gw: GatewayProcess, key: str, expected: float) -> float:
    deadline, spend = time.monotonic() + 8, 0.0
    while time.monotonic() < deadline:
        info = httpx.get(f"{gw.base_url}/key/info", params={"key": key}, headers={"Authorization": f"Bearer {MASTER}"})
        spend = info.json()["info"]["spend"]
        if spend >= expected - 1e-12:
            break
        time.sleep(0.1)
    return float(spend)


def test_the_cohere_sdk_reranks_through_the_gateway(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    client = cohere.ClientV2(api_key=MASTER, base_url=gw.base_url, timeout=30)
    answer = client.rerank(model="rerank-cohere", query=QUERY, documents=DOCS, top_n=2)
    assert [r.index for r in answer.results] == [1, 2]
    assert answer.results[0].relevance_score >= answer.results[1].relevance_score
    assert answer.meta is not None and answer.meta.billed_units.search_units == 1
    sent = cohere_fake.requests[-1]
    assert sent.path == "/v2/rerank" and sent.headers["Authorization"] == f"Bearer {CO_KEY}"
    assert sent.json == {"model": "rerank-v3.5", "query": QUERY, "documents": DOCS, "top_n": 2}


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/v2/rerank"])
def test_every_route_answers_in_cohere_shape(gw: GatewayProcess, path: str) -> None:
    response = post(gw, path, {"model": "rerank-cohere", "query": QUERY, "documents": DOCS})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [r["index"] for r in answer["results"]] == [1, 2, 0]
    assert answer["results"][0]["document"] == {"text": DOCS[1]}
    assert answer["meta"]["billed_units"] == {"search_units": 1}
    assert response.headers["x-litellm-call-id"]


@pytest.mark.parametrize("model,upstream", [("rerank-vllm", "BAAI/bge-reranker-v2-m3"),
                                            ("rerank-jina", "jina-reranker-v2-base-multilingual"),
                                            ("rerank-openai", "my-reranker")])
def test_openai_compatible_rerank_servers(gw: GatewayProcess, fake_upstream: FakeUpstream, model: str,
                                          upstream: str) -> None:
    documents = [DOCS[0], {"text": DOCS[1], "source": "wiki"}, DOCS[2]]
    response = post(gw, "/v1/rerank", {"model": model, "query": QUERY, "documents": documents, "top_n": 2,
                                       "return_documents": True})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [(r["index"], r["document"]["text"]) for r in answer["results"]] == [(1, DOCS[1]), (2, DOCS[2])]
    assert answer["meta"]["billed_units"]["input_tokens"] > 0
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/rerank"
    assert sent.json == {"model": upstream, "query": QUERY, "documents": DOCS, "top_n": 2, "return_documents": True}


def test_documents_are_left_out_when_not_asked_for(gw: GatewayProcess) -> None:
    response = post(gw, "/v1/rerank", {"model": "rerank-vllm", "query": QUERY, "documents": DOCS,
                                       "return_documents": False})
    assert response.status_code == 200
    assert all("document" not in r for r in response.json()["results"])


def test_text_embeddings_inference_gets_its_own_shape(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    response = post(gw, "/v1/rerank", {"model": "rerank-tei", "query": QUERY, "documents": DOCS, "top_n": 1})
    assert response.status_code == 200, response.text
    assert [(r["index"], r["document"]["text"]) for r in response.json()["results"]] == [(1, DOCS[1])]
    sent = fake_upstream.requests[-1]
    assert sent.path == "/rerank"
    assert sent.json == {"query": QUERY, "texts": DOCS, "raw_scores": False, "return_text": True, "top_n": 1}


def test_the_mock_provider_reranks(gw: GatewayProcess) -> None:
    response = post(gw, "/v1/rerank", {"model": "rerank-mock", "query": QUERY, "documents": DOCS, "top_n": 1})
    assert response.status_code == 200
    assert response.json()["results"][0]["index"] == 1


def test_guardrails_see_and_rewrite_the_query_and_documents(gw: GatewayProcess, guard: FakeGuardrail,
                                                            fake_upstream: FakeUpstream) -> None:
    guard.reset()
    guard.default = mask("secret")
    documents = ["the secret plan", {"text": "no secret here", "id": "d2"}, "plain"]
    response = post(gw, "/v1/rerank", {"model": "rerank-vllm", "query": "which secret", "documents": documents,
                                       "guardrails": ["mask-pre"]})
    assert response.status_code == 200, response.text
    assert guard.requests[-1].body["texts"] == ["which secret", "the secret plan", "no secret here", "plain"]
    assert fake_upstream.requests[-1].json["query"] == "which [MASKED]"
    assert fake_upstream.requests[-1].json["documents"] == ["the [MASKED] plan", "no [MASKED] here", "plain"]
    assert response.headers["x-litellm-applied-guardrails"] == "mask-pre"


@pytest.mark.parametrize("body,param", [
    ({"model": "rerank-vllm", "query": QUERY}, "documents"),
    ({"model": "rerank-vllm", "documents": DOCS}, "query"),
    ({"model": "rerank-vllm", "query": QUERY, "documents": "one"}, "documents"),
    ({"model": "rerank-vllm", "query": QUERY, "documents": []}, "documents"),
    ({"model": "rerank-vllm", "query": QUERY, "documents": [1, 2]}, "documents"),
    ({"model": "rerank-vllm", "query": 7, "documents": DOCS}, "query"),
    ({"model": "rerank-vllm", "query": QUERY, "documents": DOCS, "top_n": "two"}, "top_n"),
])
def test_bad_input_is_a_400_naming_the_field(gw: GatewayProcess, fake_upstream: FakeUpstream,
                                             body: dict[str, Any], param: str) -> None:
    response = post(gw, "/v1/rerank", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert not fake_upstream.requests


def test_a_pre_call_string_is_a_400(gw: GatewayProcess) -> None:
    response = post(gw, "/v1/rerank", {"model": "rerank-vllm", "query": "refuse me", "documents": DOCS})
    assert response.status_code == 400 and response.json()["error"]["message"] == "not today"


def test_a_chat_only_provider_refuses_rerank_cleanly(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    response = post(gw, "/v1/rerank", {"model": "chat-only", "query": QUERY, "documents": DOCS})
    assert response.status_code == 400 and "rerank" in response.json()["error"]["message"]
    assert not fake_upstream.requests


def test_an_upstream_error_keeps_its_status(gw: GatewayProcess, cohere_fake: FakeCohere) -> None:
    cohere_fake.queue(status=422, error={"message": "too many documents"})
    client = cohere.ClientV2(api_key=MASTER, base_url=gw.base_url, timeout=30)
    with pytest.raises(cohere.errors.BadRequestError) as caught:
        client.rerank(model="rerank-cohere", query=QUERY, documents=DOCS)
    assert "too many documents" in str(caught.value.body)


def test_spend_is_priced_by_search_units(gw: GatewayProcess) -> None:
    key = new_key(gw)
    response = post(gw, "/v1/rerank", {"model": "rerank-cohere", "query": QUERY, "documents": DOCS}, key)
    assert response.status_code == 200
    assert float(response.headers["x-litellm-response-cost"]) == pytest.approx(0.002)
    assert spend_reaching(gw, key, 0.002) == pytest.approx(0.002)  # rerank-v3.5: 0.002 USD per search unit


def test_spend_is_priced_by_tokens_where_the_server_counts_them(gw: GatewayProcess) -> None:
    key = new_key(gw)
    response = post(gw, "/v1/rerank", {"model": "rerank-jina", "query": QUERY, "documents": DOCS}, key)
    tokens = response.json()["meta"]["billed_units"]["input_tokens"]
    expected = tokens * 1.8e-8  # jina-reranker-v2-base-multilingual
    assert spend_reaching(gw, key, expected) == pytest.approx(expected)
