"""``/v1/messages`` to Claude on Bedrock: natively, through InvokeModel with Anthropic's body.

The ``anthropic`` SDK against the gateway against the fake Bedrock (SigV4 checked),
whose InvokeModel answers boto3 parses (``test_bedrock_fake.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import anthropic
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bedrock_support import AWS_ENV, MODEL, bedrock_fake, deployment, fake  # noqa: E402,F401

from gatehouse.testing import GatewayProcess  # noqa: E402
from gatehouse.testing.fake_bedrock import FakeBedrock, Reply  # noqa: E402

HI = [{"role": "user", "content": "ping"}]
TOOL = {"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        "cache_control": {"type": "ephemeral"}}


@pytest.fixture
def client(gateway: Callable[..., GatewayProcess], fake: FakeBedrock) -> Any:
    gw = gateway({"model_list": [deployment("claude", fake.url, max_tokens=77),
                                 deployment("claude-converse", fake.url, model=f"converse/{MODEL}")],
                  "router_settings": {"num_retries": 0}}, env=AWS_ENV)
    with anthropic.Anthropic(base_url=gw.base_url, api_key="sk-any", max_retries=0, timeout=30) as sdk:
        yield sdk


def test_invoke_model_gets_the_clients_body(client: anthropic.Anthropic, fake: FakeBedrock) -> None:
    system = [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]
    message = client.messages.create(model="claude", max_tokens=2048, system=system, messages=HI, tools=[TOOL],
                                     thinking={"type": "enabled", "budget_tokens": 1024},
                                     extra_headers={"anthropic-beta": "context-1m-2025-08-07"})
    seen = fake.requests[-1]
    assert seen.action == "invoke" and seen.model_id == MODEL and seen.signer == "AKIDFAKEBEDROCK"
    assert seen.body == {"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["context-1m-2025-08-07"],
                         "max_tokens": 2048, "system": system, "messages": HI, "tools": [TOOL],
                         "thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert message.model == "claude" and message.content[0].text == "Hello! You said: ping"  # type: ignore[union-attr]
    client.messages.create(model="claude", messages=HI, max_tokens=5)
    assert fake.requests[-1].body["max_tokens"] == 5  # the client's value over the deployment's


def test_streams_relay_claudes_events(client: anthropic.Anthropic, fake: FakeBedrock) -> None:
    fake.queue(Reply(text="one two three", tool_calls=[{"name": "lookup", "input": {"q": "x"}}]))
    with client.messages.stream(model="claude", max_tokens=50, messages=HI, tools=[TOOL]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert fake.requests[-1].action == "invoke-with-response-stream"
    assert "stream" not in fake.requests[-1].body and kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert [b.type for b in final.content] == ["text", "tool_use"] and final.model == "claude"
    assert final.content[0].text == "one two three"  # type: ignore[union-attr]
    assert final.content[1].input == {"q": "x"}  # type: ignore[union-attr]


def test_errors(client: anthropic.Anthropic, fake: FakeBedrock) -> None:
    fake.queue(Reply(status=429, error_type="ThrottlingException", message="Too many requests"))
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model="claude", max_tokens=50, messages=HI)
    assert "Too many requests" in limited.value.body["error"]["message"]  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError, match="text content blocks must be non-empty"):
        client.messages.create(model="claude", max_tokens=50, messages=[{"role": "user", "content": [
            {"type": "text", "text": ""}]}])


def test_a_converse_deployment_is_translated(client: anthropic.Anthropic, fake: FakeBedrock) -> None:
    message = client.messages.create(model="claude-converse", max_tokens=50, messages=HI)
    assert fake.requests[-1].action == "converse" and message.content[0].text == "Hello! You said: ping"  # type: ignore[union-attr]


def test_count_tokens_is_estimated(client: anthropic.Anthropic, fake: FakeBedrock) -> None:
    assert client.messages.count_tokens(model="claude", messages=HI).input_tokens > 0
    assert fake.requests == []
