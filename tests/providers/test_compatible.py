"""The OpenAI-compatible family: one table of prefixes, environment-variable keys and bases, renames.

Deployments of table rows are pointed at the fake OpenAI upstream (through
``api_base`` or the row's base variable); the fake records what arrived.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import openai
import pytest

from gatehouse.providers.compatible import PROVIDERS, markdown_table
from gatehouse.providers.registry import REGISTRY
from gatehouse.testing import FakeUpstream, GatewayProcess

sys.path.insert(0, str(Path(__file__).parent))
from translating_support import HELLO, ISOLATED, check_config  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "providers" / "openai-compatible.md"
#: LiteLLM's OpenAI-like prefixes this table must cover.
LITELLM_OPENAI_LIKE = (
    "openai", "groq", "together_ai", "deepseek", "mistral", "fireworks_ai", "openrouter", "xai", "perplexity",
    "cerebras", "sambanova", "nvidia_nim", "deepinfra", "hosted_vllm", "vllm", "lm_studio", "llamafile", "github",
    "friendliai", "nebius", "novita", "hyperbolic", "featherless_ai", "dashscope", "moonshot", "volcengine",
    "codestral", "anyscale", "meta_llama", "ai21_chat", "galadriel", "nscale", "lambda_ai", "v0", "morph",
    "openai_like", "custom_openai", "litellm_proxy",
)


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream) -> GatewayProcess:
    base = fake_upstream.url
    return gateway({
        "model_list": [
            {"model_name": "groq", "litellm_params": {"model": "groq/llama-3.3-70b", "api_base": base}},
            {"model_name": "mistral", "litellm_params": {"model": "mistral/mistral-large", "api_base": base,
                                                         "api_key": "mk"}},
            {"model_name": "perplexity", "litellm_params": {"model": "perplexity/sonar", "api_base": base,
                                                            "api_key": "pk"}},
            {"model_name": "vllm", "litellm_params": {"model": "hosted_vllm/qwen"}},  # HOSTED_VLLM_API_BASE
            {"model_name": "openai", "litellm_params": {"model": "openai/gpt-4o-mini"}},  # OPENAI_* variables
            {"model_name": "trimmed", "litellm_params": {"model": "together_ai/llama", "api_base": base, "api_key": "tk",
                                                         "additional_drop_params": ["logit_bias", "user"]}},
        ],
    }, env={**ISOLATED, "GROQ_API_KEY": "gsk-from-env", "HOSTED_VLLM_API_BASE": base,
            "OPENAI_API_KEY": "sk-from-env", "OPENAI_BASE_URL": base})


def _client(gw: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.api_base, api_key="sk-test", max_retries=0, timeout=30)


def test_keys_and_bases_come_from_the_rows_variables(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    client = _client(gw)
    for model in ("groq", "vllm", "openai"):
        assert client.chat.completions.create(model=model, messages=HELLO).choices[0].message.content
    auth = [r.headers.get("Authorization") for r in fake_upstream.requests]
    assert auth == ["Bearer gsk-from-env", None, "Bearer sk-from-env"]  # a self-hosted base needs no key
    assert [r.json["model"] for r in fake_upstream.requests] == ["llama-3.3-70b", "qwen", "gpt-4o-mini"]


def test_mistral_renames(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    _client(gw).chat.completions.create(model="mistral", messages=HELLO, max_completion_tokens=9, seed=4,
                                        tools=tools, tool_choice="required")
    sent = fake_upstream.requests[-1].json
    assert sent["max_tokens"] == 9 and sent["random_seed"] == 4 and sent["tool_choice"] == "any"
    assert "max_completion_tokens" not in sent and "seed" not in sent


def test_chat_only_rows_refuse_other_endpoints(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError, match="does not serve embedding"):
        _client(gw).embeddings.create(model="perplexity", input="x")
    assert fake_upstream.requests == []


def test_additional_drop_params(gw: GatewayProcess, fake_upstream: FakeUpstream) -> None:
    _client(gw).chat.completions.create(model="trimmed", messages=HELLO, logit_bias={"1": 1}, user="u", temperature=0)
    sent = fake_upstream.requests[-1].json
    assert "logit_bias" not in sent and "user" not in sent and sent["temperature"] == 0
    _client(gw).chat.completions.create(model="groq", messages=HELLO, extra_body={"drop_params": True})
    assert "drop_params" not in fake_upstream.requests[-1].json  # LiteLLM's switch, not the provider's field


@pytest.mark.parametrize("model, needs", [
    ("groq/llama3", "GROQ_API_KEY"), ("openai/gpt-4o", "OPENAI_API_KEY"),
    ("together_ai/x", "TOGETHER_API_KEY, TOGETHER_AI_API_KEY, TOGETHERAI_API_KEY or TOGETHER_AI_TOKEN"),
    ("hosted_vllm/x", "needs an api_base (or HOSTED_VLLM_API_BASE)"),
])
def test_start_up_names_what_is_missing(tmp_path: Path, model: str, needs: str) -> None:
    result = check_config({"model_list": [{"model_name": "m", "litellm_params": {"model": model}}]}, tmp_path)
    assert result.returncode == 2 and "deployment 'm'" in result.stderr and needs in result.stderr


def test_a_self_hosted_base_needs_no_key(tmp_path: Path) -> None:
    config = {"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/x", "api_base": "http://h:1/v1"}},
                             {"model_name": "l", "litellm_params": {"model": "llamafile/x"}}]}
    assert check_config(config, tmp_path).returncode == 0


def test_every_litellm_openai_like_prefix_is_registered() -> None:
    missing = [p for p in LITELLM_OPENAI_LIKE if p not in PROVIDERS or p not in REGISTRY]
    assert missing == []
    assert {"azure", "azure_ai", "cohere", "cohere_chat", "ollama", "ollama_chat"} <= set(REGISTRY)


def test_the_docs_table_is_generated_from_the_table() -> None:
    assert markdown_table() in DOC.read_text(), (
        "docs/providers/openai-compatible.md is out of date: paste `python -m gatehouse.providers.compatible`")
