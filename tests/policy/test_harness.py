"""``gatehouse.testing.harness``: one hook, or the whole pipeline, without a server;
and ``gatehouse check-config``, which prints the pipeline in the order it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import HTTPException
from policy_support import CALLBACKS_PY, MASTER_KEY, RULES_PY, main_config, model_entry

from gatehouse import CustomLogger, DualCache, UserAPIKeyAuth
from gatehouse.plugins import NovaTaskRoutingHook
from gatehouse.testing.harness import Harness, run_pre_call_hook

MOCK_REPLY = "Hello from the Gatehouse mock model! You said: "


class Recording(CustomLogger):
    """Records every call in a list; what it does is set per instance."""

    def __init__(self, name: str, log: list[tuple[str, str, Any]], **behaviour: Any) -> None:
        super().__init__()
        self.name, self.log, self.behaviour = name, log, behaviour

    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        self.log.append((self.name, "pre_call", (type(user_api_key_dict).__name__, type(cache).__name__, call_type)))
        action = self.behaviour.get("pre_call")
        if action == "mutate":
            data["messages"][-1]["content"] += f" +{self.name}"
        elif action == "reject":
            return f"rejected by {self.name}"
        elif action == "forbid":
            raise HTTPException(status_code=403, detail={"error": f"forbidden by {self.name}"})
        return None

    async def async_moderation_hook(self, data, user_api_key_dict, call_type):
        self.log.append((self.name, "moderation", call_type))
        if self.behaviour.get("moderation") == "block":
            raise HTTPException(status_code=400, detail="blocked in moderation")

    async def async_post_call_success_hook(self, data, user_api_key_dict, response):
        self.log.append((self.name, "post_call", response.choices[0].message.content))
        if self.behaviour.get("post_call") == "shout":
            response.choices[0].message.content = response.choices[0].message.content.upper()
            return response
        return None

    async def async_post_call_failure_hook(self, request_data, original_exception, user_api_key_dict,
                                           traceback_str=None):
        self.log.append((self.name, "failure", type(original_exception).__name__))

    async def async_post_call_streaming_iterator_hook(self, user_api_key_dict, response, request_data):
        async for chunk in response:
            if self.behaviour.get("stream") == "shout" and chunk.choices and chunk.choices[0].delta.content:
                chunk.choices[0].delta.content = chunk.choices[0].delta.content.upper()
            yield chunk

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self.log.append((self.name, "log_success", kwargs["litellm_call_id"]))


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "mock", "messages": [{"role": "user", "content": text}], **extra}


# -- one hook ---------------------------------------------------------------------------------------

async def test_run_pre_call_hook_runs_the_seed_task_router_directly():
    hook = NovaTaskRoutingHook()
    data = {"model": "nova-embeddings-v1", "task": "retrieval", "input": ["q"]}
    result = await run_pre_call_hook(hook, data, "embeddings")
    assert result["metadata"]["tags"] == ["retrieval"]
    untouched = {"model": "nova-embeddings-v1", "task": "retrieval"}
    assert await run_pre_call_hook(hook, dict(untouched), "completion") == untouched


async def test_run_pre_call_hook_hands_an_identity_and_a_cache():
    log: list[tuple[str, str, Any]] = []
    data = chat("hi")
    assert await run_pre_call_hook(Recording("a", log, pre_call="mutate"), data) is None
    assert data["messages"][-1]["content"] == "hi +a"
    assert log == [("a", "pre_call", ("UserAPIKeyAuth", "DualCache", "completion"))]
    identity, cache = UserAPIKeyAuth(api_key="k", user_id="u"), DualCache()
    assert await run_pre_call_hook(Recording("b", log, pre_call="reject"), chat("x"), "completion",
                                   identity, cache) == "rejected by b"


# -- the whole pipeline ------------------------------------------------------------------------------

async def test_the_pipeline_runs_hooks_in_order_against_the_mock_model():
    log: list[tuple[str, str, Any]] = []
    async with Harness(callbacks=[Recording("a", log, pre_call="mutate"),
                                  Recording("b", log, pre_call="mutate", post_call="shout")]) as harness:
        reply = await harness.request(chat("hi"))
    assert reply.status == 200
    body = reply.json()
    assert body["choices"][0]["message"]["content"] == (MOCK_REPLY + "hi +a +b").upper()
    assert reply.headers["x-litellm-call-id"]
    assert [(who, stage) for who, stage, _ in log if stage != "log_success"] == [
        ("a", "pre_call"), ("b", "pre_call"), ("a", "moderation"), ("b", "moderation"),
        ("a", "post_call"), ("b", "post_call")]
    # Logging hooks ran in the background; leaving the harness drained them.
    assert [(who, arg) for who, stage, arg in log if stage == "log_success"] == [
        ("a", reply.headers["x-litellm-call-id"]), ("b", reply.headers["x-litellm-call-id"])]


async def test_a_string_rejection_and_an_http_exception():
    log: list[tuple[str, str, Any]] = []
    async with Harness(callbacks=[Recording("a", log, pre_call="reject"), Recording("b", log)]) as harness:
        rejected = await harness.request(chat("hi"))
    assert rejected.status == 200
    assert rejected.json()["choices"][0]["message"]["content"] == "rejected by a"
    assert ("b", "pre_call") not in [(who, stage) for who, stage, _ in log]
    async with Harness(callbacks=[Recording("c", log, pre_call="forbid")]) as harness:
        forbidden = await harness.request(chat("hi"), path="/chat/completions")
    assert forbidden.status == 403
    assert forbidden.json()["error"]["message"] == "forbidden by c"
    assert ("c", "failure", "HTTPException") in log


async def test_a_moderation_block_and_other_endpoints():
    log: list[tuple[str, str, Any]] = []
    async with Harness(callbacks=[Recording("a", log, moderation="block")]) as harness:
        blocked = await harness.request({"model": "mock", "input": "x"}, path="/v1/embeddings")
        with pytest.raises(ValueError):
            await harness.request({}, path="/v1/not-an-endpoint")
    assert blocked.status == 400
    assert blocked.json()["error"]["message"] == "blocked in moderation"
    assert ("a", "moderation", "embeddings") in log


async def test_a_stream_through_the_pipeline():
    async with Harness(callbacks=[Recording("a", [], stream="shout")]) as harness:
        reply = await harness.request(chat("loud", stream=True))
    assert reply.status == 200
    assert reply.events[-1] == "[DONE]"
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in reply.events[:-1] if e["choices"])
    assert text == (MOCK_REPLY + "loud").upper()


async def test_a_config_mapping_with_the_fake_upstream_and_a_master_key(fake_upstream):
    log: list[tuple[str, str, Any]] = []
    config = {"model_list": [model_entry(fake_upstream.url, "fake", "fake-model")],
              "general_settings": {"master_key": MASTER_KEY}}
    async with Harness(config=config, callbacks=[Recording("a", log, pre_call="mutate")]) as harness:
        reply = await harness.request({"model": "fake", "messages": [{"role": "user", "content": "up"}]})
        refused = await harness.request(chat("x"), headers={"Authorization": "Bearer sk-wrong"})
    assert reply.status == 200
    assert fake_upstream.requests[0].json["messages"][-1]["content"] == "up +a"
    assert reply.json()["choices"][0]["message"]["content"] == "Hello! You said: up +a"
    assert refused.status == 401


async def test_a_config_file_loads_its_callbacks_before_the_given_ones(tmp_path, fake_upstream):
    (tmp_path / "custom_callbacks.py").write_text(CALLBACKS_PY)
    (tmp_path / "rules.py").write_text(RULES_PY)
    config = main_config(fake_upstream.url)
    config["general_settings"]["data_dir"] = str(tmp_path / "data")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    log: list[tuple[str, str, Any]] = []
    async with Harness(config=str(tmp_path / "config.yaml"), callbacks=[Recording("extra", log)]) as harness:
        labels = [hook.label for hook in harness.gateway.pipeline.pre_call]
        reply = await harness.request({"model": "fake", "messages": [{"role": "user", "content": "first:reject"}]})
    assert labels == ["parallel_request_limiter", "spend_tracker", "custom_callbacks.first", "custom_callbacks.second",
                      "Recording"]
    assert reply.json()["choices"][0]["message"]["content"] == "This is an invalid response"
    # The chain stopped at `first`: the extra callback's pre-call hook never ran (its failure hook did).
    assert [(who, stage) for who, stage, _ in log] == [("extra", "failure")]
    assert (tmp_path / "data").is_dir()


# -- check-config -------------------------------------------------------------------------------------

def test_check_config_prints_every_hook_and_guardrail_in_order(tmp_path):
    config = main_config("http://127.0.0.1:9/v1")
    config["guardrails"] = [{"guardrail_name": "g1", "litellm_params": {
        "guardrail": "generic_guardrail_api", "mode": ["pre_call", "post_call"], "api_base": "http://127.0.0.1:9"}}]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "custom_callbacks.py").write_text(CALLBACKS_PY)
    (tmp_path / "rules.py").write_text(RULES_PY)
    result = subprocess.run([sys.executable, "-m", "gatehouse", "check-config", str(tmp_path / "config.yaml")],
                            capture_output=True, text=True, timeout=60, cwd=Path(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
             for line in result.stdout.splitlines() if line.startswith("  ")}
    first, second = "custom_callbacks.first", "custom_callbacks.second"
    assert lines["pre_call"] == (f"parallel_request_limiter.async_pre_call_hook → spend_tracker.async_pre_call_hook → "
                                 f"{first}.async_pre_call_hook → "
                                 f"{second}.async_pre_call_hook → guardrail:g1.async_pre_call_hook")
    assert lines["during_call"] == f"{first}.async_moderation_hook → {second}.async_moderation_hook"
    assert lines["post_call"] == (f"{first}.async_post_call_success_hook → {second}.async_post_call_success_hook → "
                                  "guardrail:g1.async_post_call_success_hook")
    assert lines["post_call rules (inside retries)"] == "rules.my_rule"
    assert lines["stream (iterator)"].endswith("guardrail:g1.async_post_call_streaming_iterator_hook")
    assert lines["stream (per chunk)"] == (f"{first}.async_post_call_streaming_hook → "
                                           f"{second}.async_post_call_streaming_hook")
    assert lines["failure"] == f"{first}.async_post_call_failure_hook → {second}.async_post_call_failure_hook"
    assert f"{first}.async_log_success_event" in lines["logging (background)"]
    assert "guardrail g1: modes=['pre_call', 'post_call']" in result.stdout


def test_check_config_reports_a_broken_callback(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"litellm_settings": {"callbacks": ["nosuch.handler"]}}))
    result = subprocess.run([sys.executable, "-m", "gatehouse", "check-config", str(tmp_path / "config.yaml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot find 'nosuch'" in result.stderr and "Traceback" not in result.stderr
