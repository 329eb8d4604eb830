"""Configuration and the wire contract, seen from the guardrail service.

docs/guardrails.md *Configuration* and *Wire contract*; checklist items 58–64, 72.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from gatehouse.testing import free_port
from gatehouse.testing.fake_guardrail import PATH, Reply

MASTER_KEY = "sk-guard-e2e-master-4c1f"
GUARD_KEY = "guard-api-key-77aa"
BODY_KEYS = {
    "input_type", "litellm_call_id", "litellm_trace_id", "structured_messages", "images", "tools", "texts",
    "request_data", "request_headers", "litellm_version", "additional_provider_specific_params", "tool_calls",
    "model",
}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


# -- configuration -----------------------------------------------------------------


def test_entries_from_both_config_locations_and_both_mode_forms_run(main):
    """`pre` (top level, mode string), `pre2` (top level, mode list), `both` (litellm_settings, list)."""
    client = main.client()
    raw = client.chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": "hello"}],
        extra_body={"guardrails": ["pre", "pre2", "both"]})
    assert raw.parse().choices[0].message.content == "Hello! You said: hello"
    for name in ("pre", "pre2"):
        assert [b["input_type"] for b in main.guards[name].bodies] == ["request"], name
    assert [b["input_type"] for b in main.guards["both"].bodies] == ["request", "response"]
    assert raw.headers["x-litellm-applied-guardrails"] == "pre,pre2,both"


def test_api_key_and_api_base_from_environment_and_headers(main):
    """`pre` has api_base: os.environ/GUARD_PRE_BASE, api_key: os.environ/GUARD_KEY, headers."""
    main.client().chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}],
                                          extra_body={"guardrails": ["pre"]})
    (request,) = main.guards["pre"].requests
    assert request.path == PATH
    assert request.headers["x-api-key"] == GUARD_KEY
    assert "authorization" not in request.headers
    assert request.headers["x-guard-tenant"] == "acme"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("gatehouse/")


def test_endpoint_path_is_not_appended_twice(main):
    """`pre2`'s api_base already ends with the path (and a trailing slash)."""
    main.client().chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}],
                                          extra_body={"guardrails": ["pre2"]})
    (request,) = main.guards["pre2"].requests
    assert request.path == PATH
    assert "x-api-key" not in request.headers


def _run_gateway(tmp_path: Path, config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [sys.executable, "-m", "gatehouse", "--config", str(path), "--port", str(free_port()), "--host", "127.0.0.1"],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
    )


@pytest.mark.parametrize("where", ["guardrails", "litellm_settings.guardrails"])
def test_unknown_mode_stops_start_up_with_exit_code_2_naming_the_key(tmp_path, where):
    entry = {"guardrail_name": "g", "litellm_params": {
        "guardrail": "generic_guardrail_api", "mode": ["pre_call", "pre_mcp_call"], "api_base": "http://127.0.0.1:9"}}
    config: dict[str, Any] = {"model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/x"}}]}
    if where == "guardrails":
        config["guardrails"] = [entry]
    else:
        config["litellm_settings"] = {"guardrails": [entry]}
    done = _run_gateway(tmp_path, config)
    assert done.returncode == 2, done.stderr
    output = done.stdout + done.stderr
    assert f"{where}[0].litellm_params.mode" in output
    assert "unknown mode 'pre_mcp_call'" in output
    assert "config.yaml" in output
    assert "Traceback" not in output


# -- the request body -------------------------------------------------------------


def _virtual_key(main) -> tuple[str, str]:
    response = httpx.post(main.base_url + "/key/generate", headers={"Authorization": f"Bearer {MASTER_KEY}"},
                          json={"key_alias": "contract-key", "user_id": "user-7", "team_id": "team-9"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["key"], response.json()["token"]


def test_request_body_carries_the_whole_contract(main):
    key, token = _virtual_key(main)
    client = main.client(api_key=key, default_headers={
        "x-tenant": "acme-corp", "Cookie": "session=abc", "X-Request-Id": "req-1", "x-other": "secret-ish"})
    messages = [
        {"role": "system", "content": "sys prompt"},
        {"role": "user", "content": [{"type": "text", "text": "weather?"},
                                     {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}}]},
    ]
    raw = client.chat.completions.with_raw_response.create(
        model="fake", messages=messages, tools=TOOLS, user="end-user-7",
        extra_body={"guardrails": ["pre"]}, extra_headers={"x-litellm-trace-id": "trace-abc"})
    call_id = raw.headers["x-litellm-call-id"]
    raw.parse()

    (body,) = main.guards["pre"].bodies
    assert set(body) == BODY_KEYS
    assert body["input_type"] == "request"
    assert body["litellm_call_id"] == call_id
    assert body["litellm_trace_id"] == "trace-abc"
    assert body["texts"] == ["sys prompt", "weather?"]
    assert body["images"] == ["https://img.example/a.png"]
    assert body["structured_messages"] == messages
    assert body["tools"] == TOOLS
    assert body["tool_calls"] is None
    assert body["model"] == "fake"
    assert body["request_data"] == {
        "user_api_key_hash": token, "user_api_key_alias": "contract-key", "user_api_key_user_id": "user-7",
        "user_api_key_team_id": "team-9", "user_api_key_end_user_id": "end-user-7"}
    assert body["additional_provider_specific_params"] == {"threshold": 0.8, "lang": "en"}
    assert body["litellm_version"].startswith("gatehouse-")
    headers = body["request_headers"]
    assert headers["authorization"] == "[present]"
    assert headers["cookie"] == "[present]"
    assert headers["x-request-id"] == "[present]"
    assert headers["x-other"] == "[present]"
    assert headers["x-tenant"] == "acme-corp"  # named in extra_headers
    assert headers["user-agent"] == client.user_agent
    assert headers["x-stainless-lang"] == "python"
    assert headers["x-litellm-trace-id"] == "trace-abc"
    assert key not in str(body)


def test_trace_id_defaults_to_the_call_id(main):
    raw = main.client().chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": "hi"}], extra_body={"guardrails": ["pre"]})
    (body,) = main.guards["pre"].bodies
    assert body["litellm_call_id"] == body["litellm_trace_id"] == raw.headers["x-litellm-call-id"]
    assert body["request_data"]["user_api_key_hash"]  # the master key's identity, never the key itself
    assert MASTER_KEY not in str(body)


def test_request_tool_calls_are_sent(main):
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    messages = [
        {"role": "user", "content": "weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    main.client().chat.completions.create(model="fake", messages=messages, tools=TOOLS,
                                          extra_body={"guardrails": ["pre"]})
    (body,) = main.guards["pre"].bodies
    assert body["tool_calls"] == [call]
    assert body["texts"] == ["weather in Oslo?", "sunny"]


def test_response_side_body(main):
    call = {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    main.upstream.queue(tool_calls=[call])
    raw = main.client().chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": "hi"}], tools=TOOLS,
        extra_body={"guardrails": ["post"]})
    completion = raw.parse()
    (body,) = main.guards["post"].bodies
    assert set(body) == BODY_KEYS
    assert body["input_type"] == "response"
    assert body["litellm_call_id"] == raw.headers["x-litellm-call-id"]
    assert body["structured_messages"] is None and body["tools"] is None
    assert body["tool_calls"] == [call]
    assert body["model"] == completion.model
    assert body["texts"] == []


def test_guardrail_answer_action_is_case_insensitive(main):
    main.guards["pre"].reply(Reply("blocked", blocked_reason="lower-case block"))
    with pytest.raises(openai.BadRequestError) as info:
        main.client().chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}],
                                              extra_body={"guardrails": ["pre"]})
    assert info.value.body["message"] == "lower-case block"
