"""The policy pipeline on ``/v1/messages``: hooks, guardrails, rules, spend, caching, the request log.

One gateway with a callbacks file that records what every hook receives (``seen.jsonl``),
a post-call rule, priced deployments, and four fake Generic Guardrail API services
(``pre``, ``during``, ``post``, ``stream1``: selected per request with ``guardrails``).
Each case runs against the native deployment (``claude``) and the translated one
(``gpt``) where both matter, through the ``anthropic`` SDK.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import anthropic
import httpx
import pytest

from gatehouse.testing import FakeGuardrail, FakeUpstream, GatewayProcess
from gatehouse.testing.fake_anthropic import FakeAnthropic
from gatehouse.testing.fake_guardrail import Reply, block_on, mask

from .conftest import MASTER_KEY, USER, messages_config

HOOKS_PY = r'''
import asyncio
import json
from pathlib import Path

from gatehouse import CustomLogger, HTTPException

OUT = Path(__file__).with_name("seen.jsonl")


def write(kind, **fields):
    with open(OUT, "a") as f:
        f.write(json.dumps({"kind": kind, **fields}, default=str) + "\n")


class Hooks(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        text = json.dumps(data.get("messages"))
        write("pre_call", call_id=data["litellm_call_id"], call_type=call_type, model=data["model"],
              system=data.get("system"), max_tokens=data.get("max_tokens"), endpoint=data["metadata"]["endpoint"],
              same_metadata=data.get("litellm_metadata") is data.get("metadata"))
        if "REJECT-ME" in text:
            return "Rejected by the house rules"
        if "EDIT-ME" in text:
            data["system"] = "edited by a hook"
        return None

    async def async_moderation_hook(self, data, user_api_key_dict, call_type):
        write("during_call", call_id=data["litellm_call_id"], call_type=call_type)
        if "MODERATE-ME" in json.dumps(data.get("messages")):
            await asyncio.sleep(0.2)
            raise HTTPException(status_code=400, detail="moderated")

    async def async_post_call_success_hook(self, data, user_api_key_dict, response):
        write("post_call", call_id=data["litellm_call_id"], is_dict=isinstance(response, dict),
              content=response.get("content"))

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        standard = kwargs["standard_logging_object"]
        write("success", call_id=kwargs["litellm_call_id"], call_type=standard["call_type"],
              prompt_tokens=standard["prompt_tokens"], completion_tokens=standard["completion_tokens"],
              total_tokens=standard["total_tokens"], stream=standard["stream"],
              response_type=(response_obj or {}).get("type") if isinstance(response_obj, dict) else None)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        write("failure", call_id=kwargs["litellm_call_id"], call_type=kwargs.get("call_type"))


hooks = Hooks()


def no_forbidden(text):
    if "FORBIDDEN" in text:
        return {"decision": False, "message": "the answer broke a rule"}
    return {"decision": True}
'''
GUARDS = {"pre": "pre_call", "during": "during_call", "post": "post_call", "stream1": "post_call"}
PRICES = {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}


@pytest.fixture(scope="module")
def guards() -> Iterator[dict[str, FakeGuardrail]]:
    services = {name: FakeGuardrail() for name in GUARDS}
    for service in services.values():
        service.start_in_thread()
    yield services
    for service in services.values():
        service.stop_thread()


@pytest.fixture(autouse=True)
def _reset_guards(guards: dict[str, FakeGuardrail]) -> None:
    for service in guards.values():
        service.reset()


def pipeline_config(fake_anthropic: FakeAnthropic, fake_upstream: FakeUpstream,
                    guards: dict[str, FakeGuardrail]) -> dict[str, Any]:
    config = messages_config(fake_anthropic, fake_upstream, litellm_settings={
        "callbacks": "msg_hooks.hooks", "post_call_rules": "msg_hooks.no_forbidden"})
    for entry in config["model_list"]:
        entry["litellm_params"].update(PRICES)
    config["guardrails"] = [
        {"guardrail_name": name, "litellm_params": {
            "guardrail": "generic_guardrail_api", "api_base": guards[name].base, "mode": mode,
            **({"streaming_sampling_rate": 1} if name == "stream1" else {})}}
        for name, mode in GUARDS.items()]
    return config


@pytest.fixture
def gw(fake_anthropic: FakeAnthropic, fake_upstream: FakeUpstream, guards: dict[str, FakeGuardrail],
       gateway: Callable[..., GatewayProcess]) -> GatewayProcess:
    return gateway(pipeline_config(fake_anthropic, fake_upstream, guards), files={"msg_hooks.py": HOOKS_PY})


@pytest.fixture
def client(gw: GatewayProcess, anthropic_client: Callable[..., anthropic.Anthropic]) -> anthropic.Anthropic:
    return anthropic_client(gw)


def seen(gw: GatewayProcess, call_id: str, kind: str, wait: float = 5.0) -> list[dict[str, Any]]:
    """What the hooks recorded for one call (waits for background logging hooks)."""
    path = Path(gw.dir) / "seen.jsonl"
    deadline = time.monotonic() + wait
    while True:
        found = []
        if path.exists():
            found = [e for e in map(json.loads, path.read_text().splitlines())
                     if e["call_id"] == call_id and e["kind"] == kind]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def call_id(response: Any) -> str:
    return str(response.http_response.headers["x-litellm-call-id"])


@pytest.mark.parametrize("model", ["claude", "gpt"])
def test_every_hook_runs_with_anthropic_data(client: anthropic.Anthropic, gw: GatewayProcess, model: str) -> None:
    raw = client.messages.with_raw_response.create(model=model, max_tokens=50, system="be brief", messages=USER)
    cid, message = call_id(raw), raw.parse()
    pre = seen(gw, cid, "pre_call")[0]
    assert pre["call_type"] == "anthropic_messages" and pre["model"] == model and pre["system"] == "be brief"
    assert pre["max_tokens"] == 50 and pre["endpoint"] == "/v1/messages" and pre["same_metadata"] is True
    assert seen(gw, cid, "during_call")[0]["call_type"] == "anthropic_messages"
    post = seen(gw, cid, "post_call")[0]
    assert post["is_dict"] is True and post["content"] == [{"type": "text", "text": message.content[0].text}]  # type: ignore[union-attr]
    done = seen(gw, cid, "success")[0]
    assert done["call_type"] == "anthropic_messages" and done["response_type"] == "message"
    assert done["prompt_tokens"] == message.usage.input_tokens and done["completion_tokens"] == message.usage.output_tokens
    assert done["total_tokens"] == done["prompt_tokens"] + done["completion_tokens"] > 0


@pytest.mark.parametrize("model", ["claude", "gpt"])
def test_streams_are_logged_with_their_usage(client: anthropic.Anthropic, gw: GatewayProcess, model: str) -> None:
    with client.messages.stream(model=model, max_tokens=50, messages=USER) as stream:
        final = stream.get_final_message()
        cid = stream.response.headers["x-litellm-call-id"]
    done = seen(gw, cid, "success")[0]
    assert done["stream"] is True and done["response_type"] == "message"
    assert done["completion_tokens"] == final.usage.output_tokens == 6


def test_a_pre_call_edit_reaches_the_upstream(client: anthropic.Anthropic, fake_anthropic: FakeAnthropic,
                                              fake_upstream: FakeUpstream) -> None:
    body = {"max_tokens": 20, "system": "original", "messages": [{"role": "user", "content": "EDIT-ME please"}]}
    client.messages.create(model="claude", **body)
    assert fake_anthropic.requests[-1].json["system"] == "edited by a hook"
    client.messages.create(model="gpt", **body)
    assert fake_upstream.requests[-1].json["messages"][0] == {"role": "system", "content": "edited by a hook"}


@pytest.mark.parametrize("model", ["claude", "gpt"])
def test_a_pre_call_string_is_an_anthropic_answer(client: anthropic.Anthropic, fake_anthropic: FakeAnthropic,
                                                  fake_upstream: FakeUpstream, model: str) -> None:
    rejected = [{"role": "user", "content": "REJECT-ME now"}]
    message = client.messages.create(model=model, max_tokens=20, messages=rejected)
    assert message.type == "message" and message.stop_reason == "end_turn" and message.model == model
    assert message.id.startswith("msg_") and message.content[0].text == "Rejected by the house rules"  # type: ignore[union-attr]
    with client.messages.stream(model=model, max_tokens=20, messages=rejected) as stream:
        assert stream.get_final_text() == "Rejected by the house rules"
    assert fake_anthropic.requests == [] and fake_upstream.requests == []


def test_moderation_cancels_the_upstream_call(client: anthropic.Anthropic, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(delay=5)
    started = time.monotonic()
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="gpt", max_tokens=20, messages=[{"role": "user", "content": "MODERATE-ME"}])
    assert caught.value.body == {"type": "error", "error": {"type": "invalid_request_error", "message": "moderated"}}
    assert time.monotonic() - started < 4
    deadline = time.monotonic() + 5
    while fake_upstream.cancelled < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_upstream.cancelled == 1


def test_pre_call_guardrail_sees_every_text_and_rewrites_in_place(
        client: anthropic.Anthropic, guards: dict[str, FakeGuardrail], fake_anthropic: FakeAnthropic) -> None:
    guards["pre"].default = mask("secret")
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "my secret is 42"},
                                     {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                  "data": "iVBORw0KGgo="}}]},
        {"role": "assistant", "content": [{"type": "text", "text": "noted"},
                                          {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": [{"type": "text", "text": "the secret file"}]}]},
    ]
    tools = [{"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    client.messages.create(model="claude", max_tokens=20, system=[{"type": "text", "text": "keep it secret"}],
                           messages=messages, tools=tools, extra_body={"guardrails": ["pre"]})
    check = guards["pre"].bodies[0]
    assert check["input_type"] == "request"
    assert check["texts"] == ["keep it secret", "my secret is 42", "noted", "the secret file"]
    assert check["images"] == ["data:image/png;base64,iVBORw0KGgo="]
    assert check["tool_calls"] == [{"id": "toolu_1", "type": "function",
                                    "function": {"name": "lookup", "arguments": '{"q":"x"}'}}]
    assert check["tools"] == [{"type": "function", "function": {"name": "lookup", "parameters": tools[0]["input_schema"]}}]
    assert [m["role"] for m in check["structured_messages"]] == ["system", "user", "assistant", "tool"]
    sent = fake_anthropic.requests[-1].json
    assert sent["system"] == [{"type": "text", "text": "keep it [MASKED]"}]
    assert sent["messages"][0]["content"][0] == {"type": "text", "text": "my [MASKED] is 42"}
    assert sent["messages"][0]["content"][1]["source"]["data"] == "iVBORw0KGgo="  # untouched
    assert sent["messages"][2]["content"][0]["content"] == [{"type": "text", "text": "the [MASKED] file"}]
    assert "guardrails" not in sent


def test_the_guardrail_request_has_the_same_fields_as_on_chat(gw: GatewayProcess, guards: dict[str, FakeGuardrail],
                                                              client: anthropic.Anthropic) -> None:
    client.messages.create(model="gpt", max_tokens=20, messages=USER, extra_body={"guardrails": ["pre"]})
    httpx.post(gw.base_url + "/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30,
               json={"model": "gpt", "messages": USER, "guardrails": ["pre"]}).raise_for_status()
    on_messages, on_chat = guards["pre"].bodies
    assert set(on_messages) == set(on_chat)
    assert on_messages["texts"] == on_chat["texts"] == ["what is up"]
    assert on_messages["structured_messages"] == on_chat["structured_messages"]
    assert on_messages["request_data"] == on_chat["request_data"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_guardrail_block_is_an_anthropic_400(client: anthropic.Anthropic, guards: dict[str, FakeGuardrail],
                                               fake_upstream: FakeUpstream, stream: bool) -> None:
    guards["pre"].default = block_on("bomb", "no bombs")
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="gpt", max_tokens=20, messages=[{"role": "user", "content": "a bomb"}],
                               stream=stream, extra_body={"guardrails": ["pre"]})
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "no bombs" in caught.value.body["error"]["message"]  # type: ignore[index]
    assert fake_upstream.requests == []


def test_during_call_guardrail_blocks(client: anthropic.Anthropic, guards: dict[str, FakeGuardrail]) -> None:
    guards["during"].default = block_on("what")
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="claude", max_tokens=20, messages=USER, extra_body={"guardrails": ["during"]})
    assert guards["during"].bodies[0]["texts"] == ["what is up"]


@pytest.mark.parametrize("model", ["claude", "gpt"])
def test_post_call_guardrail_checks_and_rewrites_the_answer(client: anthropic.Anthropic,
                                                            guards: dict[str, FakeGuardrail], model: str) -> None:
    guards["post"].default = mask("said")
    message = client.messages.create(model=model, max_tokens=20, messages=USER, extra_body={"guardrails": ["post"]})
    check = guards["post"].bodies[0]
    assert check["input_type"] == "response" and check["texts"] == ["Hello! You said: what is up"]
    assert message.content[0].text == "Hello! You [MASKED]: what is up"  # type: ignore[union-attr]
    guards["post"].default = block_on("Hello")
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=model, max_tokens=20, messages=USER, extra_body={"guardrails": ["post"]})


@pytest.mark.parametrize("model", ["claude", "gpt"])
def test_streaming_guardrail_releases_checked_windows_only(gw: GatewayProcess, guards: dict[str, FakeGuardrail],
                                                           client: anthropic.Anthropic, model: str) -> None:
    guards["stream1"].default = mask("said", "[X]")
    with client.messages.stream(model=model, max_tokens=20, messages=USER,
                                extra_body={"guardrails": ["stream1"]}) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert final.content[0].text == "Hello! You [X]: what is up"  # type: ignore[union-attr]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    checked = [body["texts"][0] for body in guards["stream1"].bodies]
    assert checked[0] == "Hello! " and "Hello! You said: " in checked and checked[-1] == "Hello! You [X]: what is up"
    guards["stream1"].reset()
    guards["stream1"].default = block_on("said")
    with httpx.stream("POST", gw.base_url + "/v1/messages", timeout=30, headers={"x-api-key": MASTER_KEY},
                      json={"model": model, "max_tokens": 20, "messages": USER, "stream": True,
                            "guardrails": ["stream1"]}) as response:
        raw = b"".join(response.iter_bytes()).decode()
    assert "said" not in raw.split("event: error")[0]  # nothing unchecked leaked before the error
    assert raw.rstrip().split("\n\n")[-1].startswith('event: error\ndata: {"type":"error","error":{"type":"invalid_request_error"')


@pytest.mark.parametrize("model", ["claude", "gpt"])
def test_post_call_rules_see_the_answer_text(client: anthropic.Anthropic, fake_anthropic: FakeAnthropic,
                                             fake_upstream: FakeUpstream, model: str) -> None:
    fake_anthropic.set_default(text="this is FORBIDDEN")
    fake_upstream.set_default(content="this is FORBIDDEN")
    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(model=model, max_tokens=20, messages=USER)
    assert caught.value.body["error"] == {"type": "api_error", "message": "the answer broke a rule"}  # type: ignore[index]
    with pytest.raises(anthropic.APIStatusError):
        with client.messages.stream(model=model, max_tokens=20, messages=USER) as stream:
            stream.get_final_message()


def test_spend_is_counted_for_native_and_translated_answers(gw: GatewayProcess,
                                                            anthropic_client: Callable[..., anthropic.Anthropic]) -> None:
    made = httpx.post(gw.base_url + "/key/generate", json={}, headers={"Authorization": f"Bearer {MASTER_KEY}"})
    key = made.json()["key"]
    client = anthropic_client(gw, api_key=key)
    total = 0.0
    for model in ("claude", "gpt"):
        usage = client.messages.create(model=model, max_tokens=20, messages=USER).usage
        total += usage.input_tokens * 0.001 + usage.output_tokens * 0.002
    deadline = time.monotonic() + 10
    spend = 0.0
    while time.monotonic() < deadline:
        info = httpx.get(gw.base_url + "/key/info", params={"key": key}, headers={"Authorization": f"Bearer {MASTER_KEY}"})
        spend = info.json()["info"]["spend"]
        if spend >= total - 1e-9:
            break
        time.sleep(0.1)
    assert spend == pytest.approx(total)


def test_a_blocked_call_is_in_the_request_log(gw: GatewayProcess, client: anthropic.Anthropic,
                                              guards: dict[str, FakeGuardrail]) -> None:
    guards["pre"].default = block_on("what", "no questions")
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.with_raw_response.create(model="gpt", max_tokens=20, messages=USER,
                                                 extra_body={"guardrails": ["pre"]})
    cid = caught.value.response.headers["x-litellm-call-id"]
    deadline = time.monotonic() + 5
    while f"call {cid} /v1/messages → 400" not in gw.logs() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert f"call {cid} /v1/messages → 400" in gw.logs()
    assert seen(gw, cid, "failure")[0]["call_type"] == "anthropic_messages"


def test_answers_are_cached(fake_anthropic: FakeAnthropic, fake_upstream: FakeUpstream, redis_url: str,
                            gateway: Callable[..., GatewayProcess],
                            anthropic_client: Callable[..., anthropic.Anthropic]) -> None:
    config = messages_config(fake_anthropic, fake_upstream, litellm_settings={
        "cache": True, "cache_params": {"type": "redis", "url": redis_url}})
    client = anthropic_client(gateway(config))
    for model, fake in (("claude", fake_anthropic), ("gpt", fake_upstream)):
        first = client.messages.with_raw_response.create(model=model, max_tokens=20, messages=USER)
        second = client.messages.with_raw_response.create(model=model, max_tokens=20, messages=USER)
        assert first.http_response.headers["x-gatehouse-cache"].startswith("miss")
        assert second.http_response.headers["x-gatehouse-cache"] == "hit"
        assert second.parse().content == first.parse().content and second.parse().model == model
        assert len(fake.requests) == 1
