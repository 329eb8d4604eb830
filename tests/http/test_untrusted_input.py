"""What a client sends cannot reach hooks raw, forge gateway fields, split headers or forge log lines.

Issue 8 items 3, 10 and 11, through the real server. The ``watched`` gateway
loads ``watch.recorder``, a callback that writes what its pre-call, logging
and response-headers hooks receive to ``seen.jsonl`` (keyed by the request's
trace id, i.e. the client's ``x-litellm-call-id``). docs/security.md.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable

import httpx
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess, upstream_model_config

MASTER_KEY = "sk-watched-master-5d1e"
TIMEOUT = 30.0
Gw = Any  # the http conftest's Gw: process, fake, key, post()

RECORDER_PY = r'''
"""What hooks see of the request headers and metadata, one JSON line per hook."""
import json
from pathlib import Path

from gatehouse import CustomLogger

OUT = Path(__file__).with_name("seen.jsonl")


def _write(hook, data):
    data = data if isinstance(data, dict) else {}
    metadata = data.get("metadata") or {}
    server = data.get("proxy_server_request") or {}
    line = {"hook": hook, "trace": data.get("litellm_trace_id"), "call_id": data.get("litellm_call_id"),
            "metadata_headers": metadata.get("headers"), "server_headers": server.get("headers"),
            "applied_guardrails": metadata.get("applied_guardrails"),
            "guardrail_information": metadata.get("standard_logging_guardrail_information"),
            "user_api_key_hash": metadata.get("user_api_key_hash")}
    with open(OUT, "a") as f:
        f.write(json.dumps(line) + "\n")


class Recorder(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        _write("pre_call", data)

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        _write("log_success", kwargs)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        _write("log_failure", kwargs)

    async def async_post_call_response_headers_hook(self, data, user_api_key_dict, response,
                                                    request_headers=None, litellm_call_info=None):
        _write("headers", {"litellm_trace_id": data.get("litellm_trace_id"),
                           "metadata": {"headers": request_headers}})
        if "evil-header" in json.dumps(data.get("messages")):
            return {"x-hook": "a\r\nx-injected: 1"}
        return None


recorder = Recorder()
'''


@pytest.fixture
def watched(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream, core: Gw) -> Gw:
    config = {
        "model_list": [upstream_model_config(fake_upstream.url)],
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
        "litellm_settings": {"callbacks": "watch.recorder"},
    }
    return type(core)(gateway(config, files={"watch.py": RECORDER_PY}), fake_upstream, MASTER_KEY)


def _seen(gw: Gw, trace: str, hooks: set[str], timeout: float = 5.0) -> dict[str, dict[str, Any]]:
    path = gw.process.dir / "seen.jsonl"
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                entry = json.loads(line)
                if entry["trace"] == trace:
                    found[entry["hook"]] = entry
        if hooks <= set(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _chat(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "fake", "messages": [{"role": "user", "content": text}], **extra}


# -- item 3: credentials never reach hooks -------------------------------------------

CREDENTIALS = {
    "Authorization": f"Bearer {MASTER_KEY}",
    "x-api-key": MASTER_KEY,
    "api-key": MASTER_KEY,
    "Cookie": "session=abc123secretcookie",
    "x-goog-api-key": "AIza-secret-value",
    "x-custom-auth-token": "tok-secret-value",
}


def test_hooks_never_see_the_callers_credentials(watched: Gw) -> None:
    trace = f"trace-{uuid.uuid4().hex}"
    response = watched.post("/v1/chat/completions", _chat(),
                            headers={**CREDENTIALS, "x-litellm-call-id": trace, "x-tenant": "acme"})
    assert response.status_code == 200, response.text
    seen = _seen(watched, trace, {"pre_call", "log_success", "headers"})
    assert set(seen) == {"pre_call", "log_success", "headers"}
    for hook, entry in seen.items():
        for field in ("metadata_headers", "server_headers"):
            headers = entry[field]
            if headers is None:
                continue
            text = json.dumps(headers)
            for secret in (MASTER_KEY, "abc123secretcookie", "AIza-secret-value", "tok-secret-value"):
                assert secret not in text, (hook, field, headers)
            assert headers["authorization"] == headers["x-api-key"] == headers["cookie"] == "[REDACTED]"
            assert headers["x-tenant"] == "acme"  # other headers keep their values
    assert seen["pre_call"]["user_api_key_hash"] == "litellm_proxy_master_key"  # who called is still known


# -- item 10: gateway-owned fields cannot be forged ---------------------------------

FORGED_RECORD = {"guardrail_name": "forged", "guardrail_status": "success", "guardrail_mode": "pre_call"}


def _forged_metadata() -> dict[str, Any]:
    return {"applied_guardrails": ["forged\r\nx-injected: 1"], "standard_logging_guardrail_information": [FORGED_RECORD],
            "user_api_key_hash": "not-me", "gatehouse_rate_limit": {"id": "someone-else"}, "headers": {"x": "y"},
            "note": "kept"}


def test_forged_gateway_metadata_is_dropped_when_hooks_run(watched: Gw) -> None:
    trace = f"trace-{uuid.uuid4().hex}"
    response = watched.post("/v1/chat/completions", _chat(metadata=_forged_metadata(), include_guardrail_response=True),
                            headers={"x-litellm-call-id": trace})
    assert response.status_code == 200, response.text
    assert "x-litellm-applied-guardrails" not in response.headers and "x-injected" not in response.headers
    assert response.json()["guardrail_information"] == []
    seen = _seen(watched, trace, {"pre_call", "log_success"})
    for entry in (seen["pre_call"], seen["log_success"]):
        assert entry["applied_guardrails"] is None and entry["guardrail_information"] is None
        assert entry["user_api_key_hash"] == "litellm_proxy_master_key"
        assert entry["metadata_headers"] is None or "x" not in entry["metadata_headers"]


def test_forged_gateway_metadata_cannot_split_the_answer_on_the_fast_path(core: Gw) -> None:
    """No hooks run for the master key here: the body used to reach the response headers as sent."""
    response = core.post("/v1/chat/completions", _chat(metadata=_forged_metadata()))
    assert response.status_code == 200, response.text
    assert "x-litellm-applied-guardrails" not in response.headers and "x-injected" not in response.headers
    assert response.json()["choices"][0]["message"]["content"] == "Hello! You said: hi"
    assert len(core.fake.requests) == 1  # type: ignore[union-attr]


def test_a_hook_header_with_cr_lf_is_escaped_not_split(watched: Gw) -> None:
    response = watched.post("/v1/chat/completions", _chat("evil-header"))
    assert response.status_code == 200, response.text
    assert response.headers["x-hook"] == "a\\r\\nx-injected: 1"
    assert "x-injected" not in response.headers


# -- item 11: control characters cannot forge log lines ------------------------------

FORGED_LINE = "2030-01-01 00:00:00,000 INFO gatehouse.flow: forged"


@pytest.mark.parametrize("where", ["model", "guardrail"])
def test_control_characters_cannot_forge_a_log_line(core: Gw, where: str) -> None:
    name = f"x{uuid.uuid4().hex[:8]}\r\n{FORGED_LINE}\x00end"
    body = _chat(model=name) if where == "model" else _chat(guardrails=[name])
    response = core.post("/v1/chat/completions", body)
    assert response.status_code == 400, response.text
    call_id = response.headers["x-litellm-call-id"]
    deadline = time.monotonic() + 3
    while call_id not in core.process.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = core.process.logs().splitlines()
    (line,) = [line for line in lines if call_id in line]
    assert "\\r\\n2030-01-01" in line and "\\x00end" in line
    assert not any(line.startswith(FORGED_LINE) for line in lines)
    assert "\x00" not in core.process.logs()


def test_a_non_utf8_header_reaches_hooks_as_escapes(watched: Gw) -> None:
    trace = f"trace-{uuid.uuid4().hex}"
    response = httpx.post(watched.base_url + "/v1/chat/completions", json=_chat(), timeout=TIMEOUT,
                          headers={"Authorization": f"Bearer {MASTER_KEY}", "x-litellm-call-id": trace,
                                   "User-Agent": b"agent\xff/1", "x-litellm-tags": b"t\xfe"})
    assert response.status_code == 200, response.text
    entry = _seen(watched, trace, {"pre_call"})["pre_call"]
    assert entry["metadata_headers"]["user-agent"] == "agent\\xff/1"
    assert entry["metadata_headers"]["x-litellm-tags"] == "t\\xfe"
