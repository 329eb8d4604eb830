"""Embeddings through bedrock/ deployments: Titan (one InvokeModel per text) and Cohere (one for all)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import openai
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bedrock_support import AWS_ENV, bedrock_fake, deployment, fake  # noqa: E402,F401

from gatehouse.testing import GatewayProcess  # noqa: E402
from gatehouse.testing.fake_bedrock import ACCESS_KEY, FakeBedrock, Reply  # noqa: E402


@pytest.fixture
def client(gateway: Callable[..., GatewayProcess], fake: FakeBedrock,
           openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    config: dict[str, Any] = {"model_list": [
        deployment("titan-v1", fake.url, "amazon.titan-embed-text-v1"),
        deployment("titan-v2", fake.url, "amazon.titan-embed-text-v2:0"),
        deployment("cohere-embed", fake.url, "cohere.embed-english-v3"),
        deployment("claude", fake.url),
    ], "router_settings": {"num_retries": 0}}
    return openai_client(gateway(config, env=AWS_ENV))


def test_titan_v1_one_call_per_text(client: openai.OpenAI, fake: FakeBedrock) -> None:
    answer = client.embeddings.create(model="titan-v1", input=["hello world", "bye"], encoding_format="float")
    assert [r.path for r in fake.requests] == ["/model/amazon.titan-embed-text-v1/invoke"] * 2
    assert sorted(r.body["inputText"] for r in fake.requests) == ["bye", "hello world"]
    assert all(r.signer == ACCESS_KEY for r in fake.requests)
    assert [d.index for d in answer.data] == [0, 1]
    assert answer.data[0].embedding[:2] == [11.0, 11.1] and answer.data[1].embedding[0] == 3.0
    assert answer.usage.prompt_tokens == 3 and answer.model == "titan-v1"


def test_titan_v2_dimensions_and_the_sdks_base64_default(client: openai.OpenAI, fake: FakeBedrock) -> None:
    answer = client.embeddings.create(model="titan-v2", input="hello", dimensions=4)  # the SDK asks for base64
    assert fake.requests[-1].body == {"inputText": "hello", "dimensions": 4}
    assert answer.data[0].embedding == pytest.approx([5.0, 5.1, 5.2, 5.3], rel=1e-6)


def test_cohere_all_texts_in_one_call(client: openai.OpenAI, fake: FakeBedrock) -> None:
    answer = client.embeddings.create(model="cohere-embed", input=["a b", "c"], encoding_format="float")
    assert len(fake.requests) == 1
    assert fake.requests[-1].body == {"texts": ["a b", "c"], "input_type": "search_document"}
    assert len(answer.data) == 2 and answer.usage.prompt_tokens == 3


def test_embedding_errors_and_unsupported_fields(client: openai.OpenAI, fake: FakeBedrock) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="titan-v1", input="x", dimensions=4)
    assert "'dimensions'" in caught.value.message
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="titan-v1", input=[[1, 2, 3]])
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="claude", input="x")
    assert "serves chat, not embedding" in caught.value.message
    fake.queue(Reply(status=429, error_type="ThrottlingException", message="slow"))
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="cohere-embed", input="x")
