"""``litellm_settings.success_callback`` / ``failure_callback`` with plain functions,
as LiteLLM calls them: ``fn(kwargs, response_obj, start_time, end_time)``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import openai
import pytest

FUNCTIONS = '''
import json, os

LOG = os.path.join(os.path.dirname(__file__), "events.jsonl")

def on_success(kwargs, response_obj, start_time, end_time):
    with open(LOG, "a") as f:
        f.write(json.dumps({"event": "success", "id": kwargs["litellm_call_id"],
                            "content": response_obj["choices"][0]["message"]["content"],
                            "ordered": start_time <= end_time}) + "\\n")

async def on_failure(kwargs, response_obj, start_time, end_time):
    with open(LOG, "a") as f:
        f.write(json.dumps({"event": "failure", "id": kwargs["litellm_call_id"],
                            "status": kwargs["exception"].status}) + "\\n")
'''


@pytest.fixture(scope="module")
def functions_gateway(gateway):
    config = {
        "model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/fn"}}],
        "general_settings": {"master_key": "sk-fn"},
        "litellm_settings": {"success_callback": ["langfuse", "event_functions.on_success"],
                             "failure_callback": "event_functions.on_failure"},
    }
    return gateway(config, files={"event_functions.py": FUNCTIONS})


def _events(gw, call_id: str, timeout: float = 5.0) -> list[dict]:
    path = Path(gw.dir) / "events.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            found = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            found = [e for e in found if e["id"] == call_id]
            if found:
                return found
        time.sleep(0.05)
    return []


def test_success_function_gets_the_response(functions_gateway, openai_client):
    client = openai_client(functions_gateway, api_key="sk-fn")
    raw = client.chat.completions.with_raw_response.create(model="mock", messages=[{"role": "user", "content": "hi"}])
    call_id = raw.headers["x-litellm-call-id"]
    events = _events(functions_gateway, call_id)
    assert events == [{"event": "success", "id": call_id, "content": raw.parse().choices[0].message.content,
                       "ordered": True}]


def test_async_failure_function_gets_the_error(functions_gateway, openai_client):
    client = openai_client(functions_gateway, api_key="sk-fn")
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    call_id = caught.value.response.headers["x-litellm-call-id"]
    assert _events(functions_gateway, call_id) == [{"event": "failure", "id": call_id, "status": 400}]


def test_integration_names_are_ignored_with_a_warning(functions_gateway):
    assert "'langfuse' is a LiteLLM logging integration Gatehouse does not ship; ignored" in functions_gateway.logs()
