"""Gemini embeddings through the gateway: AI Studio ``embedContent`` / ``batchEmbedContents`` and
Vertex ``:predict``, answered as OpenAI embeddings (floats, or base64 as the SDK asks by default)."""

from __future__ import annotations

import base64
import json
import struct
from typing import Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import GatewayProcess
from gatehouse.testing.fake_answers import _vector
from gatehouse.testing.fake_gemini import FakeGemini, studio_model, vertex_model

KEY = "AIza-embed-key"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    server = FakeGemini(api_key=KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(autouse=True)
def _clean(fake: FakeGemini) -> None:
    fake.reset()


@pytest.fixture(scope="module")
def gw(gateway: Callable[..., GatewayProcess], fake: FakeGemini) -> GatewayProcess:
    return gateway({"model_list": [
        studio_model(fake.url, name="gem-embed", model="gemini-embedding-001", api_key=KEY),
        vertex_model(fake.url, "sa.json", name="vertex-embed", model="text-embedding-005"),
    ]}, files={"sa.json": json.dumps(fake.service_account())})


@pytest.fixture
def client(gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return openai_client(gw)


def test_studio_single_input(client: openai.OpenAI, fake: FakeGemini) -> None:
    result = client.embeddings.create(model="gem-embed", input="hello world", dimensions=4)  # SDK asks for base64
    assert result.data[0].embedding == pytest.approx(_vector("hello world", 4), abs=1e-6)
    call = fake.calls("embedContent")[-1]
    assert call.path == "/v1beta/models/gemini-embedding-001:embedContent" and call.headers["x-goog-api-key"] == KEY
    assert call.json == {"content": {"parts": [{"text": "hello world"}]}, "outputDimensionality": 4}


def test_studio_batch_as_floats(gw: GatewayProcess, fake: FakeGemini) -> None:
    response = httpx.post(gw.api_base + "/embeddings", timeout=30, json={
        "model": "gem-embed", "input": ["a", "b c"], "encoding_format": "float", "task_type": "RETRIEVAL_QUERY"})
    body = response.json()
    assert response.status_code == 200 and body["object"] == "list" and body["model"] == "gem-embed"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert body["data"][1]["embedding"] == _vector("b c", 8)
    requests = fake.calls("batchEmbedContents")[-1].json["requests"]
    assert requests == [
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}, "taskType": "RETRIEVAL_QUERY"},
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b c"}]}, "taskType": "RETRIEVAL_QUERY"},
    ]


def test_base64_is_little_endian_float32(gw: GatewayProcess) -> None:
    response = httpx.post(gw.api_base + "/embeddings", timeout=30,
                          json={"model": "gem-embed", "input": "x", "encoding_format": "base64"})
    raw = base64.b64decode(response.json()["data"][0]["embedding"])
    assert list(struct.unpack("<8f", raw)) == pytest.approx(_vector("x", 8), abs=1e-6)


def test_vertex_predict(client: openai.OpenAI, fake: FakeGemini) -> None:
    result = client.embeddings.create(model="vertex-embed", input=["one two", "three"], dimensions=3)
    assert [len(d.embedding) for d in result.data] == [3, 3]
    assert result.usage.prompt_tokens == 3  # Vertex's statistics.token_count, summed
    call = fake.calls("predict")[-1]
    assert call.path.endswith("/publishers/google/models/text-embedding-005:predict")
    assert call.json == {"instances": [{"content": "one two"}, {"content": "three"}],
                         "parameters": {"outputDimensionality": 3}}
    assert call.headers["Authorization"].removeprefix("Bearer ") in fake.issued


def test_token_arrays_are_refused(client: openai.OpenAI, fake: FakeGemini) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="gem-embed", input=[[1, 2, 3]])
    assert "token arrays are not supported" in caught.value.message and fake.calls() == []


def test_bad_embeddings_answer_is_502(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.set_default(raw='{"embeddings": []}')  # every attempt (a 502 is retried)
    with pytest.raises(openai.APIStatusError) as caught:
        client.embeddings.create(model="gem-embed", input=["a", "b"])
    assert caught.value.status_code == 502 and "deployment 'gem-embed'" in caught.value.message
