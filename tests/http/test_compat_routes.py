"""LiteLLM's extra routes: Azure-style deployment paths, /engines, /model/info, x-litellm-model-id."""

from __future__ import annotations

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream, upstream_model_config

KEY = "sk-compat"


@pytest.fixture(scope="module")
def compat_gw(gateway, fake_upstream: FakeUpstream):
    config = {
        "model_list": [
            upstream_model_config(fake_upstream.url, model_name="fake", model_info={"id": "fake-1"}),
            {"model_name": "other", "litellm_params": {"model": "mock/other", "api_key": "sk-provider-secret"}},
        ],
        "general_settings": {"master_key": KEY},
    }
    return gateway(config)


def test_the_azure_sdk_reaches_the_deployment_named_in_the_path(compat_gw, fake_upstream):
    client = openai.AzureOpenAI(azure_endpoint=compat_gw.base_url, api_key=KEY, api_version="2024-10-21", max_retries=0)
    reply = client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "from azure"}])
    assert reply.choices[0].message.content == "Hello! You said: from azure"
    assert fake_upstream.requests[0].json["model"] == "fake-model"


def test_the_path_model_wins_over_the_body(compat_gw, fake_upstream):
    response = httpx.post(f"{compat_gw.base_url}/openai/deployments/fake/embeddings",
                          json={"model": "other", "input": "x"}, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200 and len(fake_upstream.requests) == 1
    response = httpx.post(f"{compat_gw.base_url}/engines/other/completions",
                          json={"prompt": "hi"}, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200 and response.json()["object"] == "text_completion"
    assert len(fake_upstream.requests) == 1  # `other` is the mock deployment


def test_answers_name_the_deployment(compat_gw, openai_client):
    raw = openai_client(compat_gw, api_key=KEY).chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-litellm-model-id"] == "fake-1"


def test_model_info_lists_deployments_without_credentials(compat_gw):
    response = httpx.get(f"{compat_gw.base_url}/v1/model/info", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200
    data = {d["model_name"]: d for d in response.json()["data"]}
    assert set(data) == {"fake", "other"}
    assert data["fake"]["model_info"]["id"] == "fake-1"
    assert data["fake"]["litellm_params"]["model"] == "openai/fake-model"
    assert "sk-provider-secret" not in response.text and "sk-upstream" not in response.text
    assert httpx.get(f"{compat_gw.base_url}/model/info").status_code == 401
