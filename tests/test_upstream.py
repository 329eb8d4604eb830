"""The upstream layer (gatehouse/upstream.py) with a format that is not OpenAI's.

A toy ``shout`` format stands where ``/v1/messages`` or ``/v1/responses`` will:
its requests are translated to OpenAI chat for the provider and the provider's
answers and stream chunks back, through the same route → provider → answer path
the OpenAI formats take without translation. Real router, real mock provider.
"""

from __future__ import annotations

from typing import Any

import orjson

from gatehouse.background import Background
from gatehouse.call import Call
from gatehouse.endpoints import Endpoint
from gatehouse.formats.base import Extraction
from gatehouse.formats.openai_chat import CHAT
from gatehouse.formats.sse import named_frame
from gatehouse.metrics import Metrics
from gatehouse.policy.rules import PostCallRules
from gatehouse.policy.variants import PolicySet
from gatehouse.providers import Providers
from gatehouse.routing.deployment import RouterSettings, deployments_from_config
from gatehouse.routing.router import Router
from gatehouse.upstream import TranslatedStream, Upstream


class ShoutTranslator:
    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        text = CHAT.stream.text(chunk)
        return [{"type": "piece", "text": text.upper()}] if text else []

    def close(self) -> list[dict[str, Any]]:
        return [{"type": "end"}]


class ShoutEvents:
    end = end_marker = b""

    def frame(self, event: Any) -> bytes:
        return named_frame(event["type"], event)

    def translator(self) -> ShoutTranslator:
        return ShoutTranslator()


class Shout:
    """Requests ``{"model", "say"}``; answers ``{"said"}``; streams ``piece`` events, then ``end``."""

    name = "shout"
    stream = ShoutEvents()

    def to_provider(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"model": body["model"], "messages": [{"role": "user", "content": body["say"]}]}

    def from_provider(self, answer: dict[str, Any]) -> dict[str, Any]:
        return {"said": CHAT.answer_text(answer).upper()}

    def restamp(self, answer: dict[str, Any], model: str) -> None:
        answer["group"] = model

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        return Extraction()


SHOUT_ENDPOINT = Endpoint("/shout", "shout", "chat", ("say",), (), format=Shout(), can_stream=True)  # type: ignore[arg-type]


def upstream() -> Upstream:
    deployments = deployments_from_config(
        [{"model_name": "loud", "litellm_params": {"model": "mock/x", "mock_response": "hello there"}}], source="test")
    return Upstream(router=Router(deployments, RouterSettings()), providers=Providers(deployments),
                    rules=PostCallRules([]), metrics=Metrics())


def call(endpoint: Endpoint, data: dict[str, Any]) -> Call:
    policy = PolicySet([], cache=None, hook_timeout=5.0, metrics=Metrics(), background=Background()).full
    return Call("call-1", endpoint, endpoint.path, {}, policy, data=data)


async def test_a_translating_format_gets_its_own_answer() -> None:
    answer = await upstream().answer(call(SHOUT_ENDPOINT, {"model": "loud", "say": "hi", "metadata": {"x": 1}}))
    assert answer == {"said": "HELLO THERE", "group": "loud"}


async def test_a_translating_format_gets_its_own_stream_events_and_frames() -> None:
    up = upstream()
    stream = await up.open_stream(call(SHOUT_ENDPOINT, {"model": "loud", "say": "hi", "stream": True}))
    assert isinstance(stream, TranslatedStream)
    events = [orjson.loads(payload) async for payload in stream]
    assert "".join(e.get("text", "") for e in events) == "HELLO THERE"
    assert events[-1] == {"type": "end"}
    stream = await up.open_stream(call(SHOUT_ENDPOINT, {"model": "loud", "say": "hi", "stream": True}))
    frames = b"".join([piece async for piece in stream.pieces()])
    assert frames.startswith(b"event: piece\ndata: ") and frames.endswith(b'event: end\ndata: {"type":"end"}\n\n')


async def test_openai_chat_streams_are_the_providers_own() -> None:
    from gatehouse.endpoints import by_call_type

    stream = await upstream().open_stream(call(by_call_type("completion"), {
        "model": "loud", "messages": [{"role": "user", "content": "hi"}], "stream": True}))
    assert not isinstance(stream, TranslatedStream)  # relayed byte for byte: nothing to translate
    pieces = b"".join([piece async for piece in stream.pieces()])
    assert pieces.endswith(b"data: [DONE]\n\n")
