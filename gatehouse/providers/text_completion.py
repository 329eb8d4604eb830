"""``text-completion-openai/<model>``: models that only speak the legacy ``/completions`` API.

As in LiteLLM, a chat request to such a deployment is sent to ``/completions``
with the messages' text as the prompt, and the answer comes back in the chat
format (``chat.completion`` / ``chat.completion.chunk``); ``/completions``
requests pass through unchanged. Every other operation is the OpenAI
provider's.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import orjson

from ..routing.deployment import Deployment
from .base import UpstreamStream
from .openai import OpenAICompatibleProvider

__all__ = ["TextCompletionProvider", "prompt_of"]

_CHAT_ONLY = frozenset({"messages", "tools", "tool_choice", "functions", "function_call", "response_format",
                        "parallel_tool_calls", "modalities", "audio", "reasoning_effort"})


def prompt_of(messages: Any) -> str:
    """The messages' text, one message per line (content parts: their text)."""
    lines = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if isinstance(content, str) and content:
            lines.append(content)
    return "\n".join(lines)


def _completion_body(body: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k not in _CHAT_ONLY}
    out["prompt"] = prompt_of(body.get("messages"))
    return out


def _chat_choice(choice: dict[str, Any], *, delta: bool) -> dict[str, Any]:
    text = choice.get("text") or ""
    message = {"content": text} if delta else {"role": "assistant", "content": text}
    return {"index": choice.get("index", 0), "delta" if delta else "message": message,
            "finish_reason": choice.get("finish_reason"), "logprobs": choice.get("logprobs")}


def _chat_answer(answer: dict[str, Any], *, chunk: bool) -> dict[str, Any]:
    choices = [c for c in answer.get("choices") or [] if isinstance(c, dict)]
    out = {**answer, "object": "chat.completion.chunk" if chunk else "chat.completion",
           "choices": [_chat_choice(c, delta=chunk) for c in choices]}
    return out


class _ChatStream:
    """A ``/completions`` stream, event by event, as chat chunks."""

    def __init__(self, inner: UpstreamStream) -> None:
        self._inner = inner
        self.upstream_model: str | None = None

    async def _events(self) -> AsyncIterator[bytes]:
        async for payload in self._inner:
            try:
                event = orjson.loads(payload)
            except orjson.JSONDecodeError:
                yield payload
                continue
            yield orjson.dumps(_chat_answer(event, chunk=True)) if isinstance(event, dict) else payload

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._events()

    async def pieces(self) -> AsyncIterator[bytes]:
        async for payload in self._events():
            yield b"data: " + payload + b"\n\n"
        yield b"data: [DONE]\n\n"

    async def aclose(self) -> None:
        await self._inner.aclose()


class TextCompletionProvider(OpenAICompatibleProvider):
    """The OpenAI provider, with chat requests sent to ``/completions`` and answered as chat."""

    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        if operation != "chat":
            return await super().call(operation, body, deployment, timeout)
        answer = await super().call("completion", _completion_body(body), deployment, timeout)
        return _chat_answer(answer, chunk=False)

    async def stream(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> Any:
        if operation != "chat":
            return await super().stream(operation, body, deployment, timeout)
        return _ChatStream(await super().stream("completion", _completion_body(body), deployment, timeout))
