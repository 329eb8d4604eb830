"""Every exit of the flow ends the same way (gatehouse/endings.py): counted in
``gatehouse_requests_total``, response-headers hooks run, logging hooks told.

Through the real server with the ``openai`` SDK: a JSON answer, a streamed
answer, a pre-call hook's rejection (JSON and streamed) and an error.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess, upstream_model_config

HOOKS_PY = r'''
import json

from gatehouse import CustomLogger


class EndingHooks(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        if "please-reject" in json.dumps(data.get("messages") or data.get("prompt")):
            return "Rejected by the ending hook"
        return None

    async def async_post_call_response_headers_hook(self, data, user_api_key_dict, response, request_headers=None):
        return {"x-ending-hook": "answer" if response is not None else "no-answer",
                "x-ending-call": str(data.get("litellm_call_id"))}


handler = EndingHooks()
'''

MASTER_KEY = "sk-endings-1"


@pytest.fixture
def gw(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream) -> GatewayProcess:
    config = {
        "model_list": [upstream_model_config(fake_upstream.url)],
        "litellm_settings": {"callbacks": ["ending_hooks.handler"]},
        "general_settings": {"master_key": MASTER_KEY},
    }
    return gateway(config, files={"ending_hooks.py": HOOKS_PY})


@pytest.fixture
def client(gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return openai_client(gw, api_key=MASTER_KEY)


def counted(gw: GatewayProcess, endpoint: str, status: str) -> float:
    text = httpx.get(gw.base_url + "/metrics", timeout=10).text
    found = re.search(rf'^gatehouse_requests_total\{{endpoint="{endpoint}",status="{status}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def chat(client: openai.OpenAI, text: str, **kw: Any) -> Any:
    return client.chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": text}], **kw)


def test_streamed_answers_are_counted(gw: GatewayProcess, client: openai.OpenAI) -> None:
    before = counted(gw, "completion", "200")
    raw = chat(client, "hello", stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert counted(gw, "completion", "200") == before + 1


def test_rejections_are_counted(gw: GatewayProcess, client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    before = counted(gw, "completion", "200")
    answer = chat(client, "please-reject this").parse()
    assert answer.choices[0].message.content == "Rejected by the ending hook"
    streamed = chat(client, "please-reject this too", stream=True).parse()
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "Rejected by the ending hook"
    text_before = counted(gw, "text_completion", "200")
    completion = client.completions.create(model="fake", prompt="please-reject")
    assert completion.choices[0].text == "Rejected by the ending hook"
    assert fake_upstream.requests == []
    assert counted(gw, "completion", "200") == before + 2
    assert counted(gw, "text_completion", "200") == text_before + 1


def test_rejections_run_the_response_headers_hook(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    for stream in (False, True):
        raw = chat(client, "please-reject", stream=stream)
        assert raw.headers["x-ending-hook"] == "no-answer"
        assert raw.headers["x-ending-call"] == raw.headers["x-litellm-call-id"]
        raw.parse()
    assert fake_upstream.requests == []


def test_every_exit_runs_the_response_headers_hook(gw: GatewayProcess, client: openai.OpenAI) -> None:
    assert chat(client, "hello").headers["x-ending-hook"] == "answer"
    streamed = chat(client, "hello", stream=True)
    assert streamed.headers["x-ending-hook"] == "no-answer"  # the headers go out before the stream's body
    streamed.parse()
    before = counted(gw, "completion", "400")
    with pytest.raises(openai.BadRequestError) as failed:
        client.chat.completions.create(model="no-such-group", messages=[{"role": "user", "content": "x"}])
    assert failed.value.response.headers["x-ending-hook"] == "no-answer"
    assert counted(gw, "completion", "400") == before + 1
