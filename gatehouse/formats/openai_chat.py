"""OpenAI chat completions (``/v1/chat/completions``): requests, answers, chunks.

    request   {"model", "messages": [{"role", "content": str | [parts], "tool_calls"?}], "tools"?, "stream"?}
    answer    {"id", "object": "chat.completion", "created", "model",
               "choices": [{"index", "message": {"role", "content", "tool_calls"?}, "finish_reason"}], "usage"}
    chunk     {"id", "object": "chat.completion.chunk", "created", "model",
               "choices": [{"index", "delta": {"role"?, "content"?, "tool_calls"?}, "finish_reason"}], "usage"?}

What guardrails see: every message's ``content`` (a string, or the ``text``
of each part), ``image_url`` parts as images, ``tool_calls`` and ``tools``;
on the answer, each choice's message the same way. Post-call rules see the
first choice's message content. A pre-call hook's string is answered as a
``chat.completion`` (or its chunks). Providers speak this format, so nothing
is translated and streams may be relayed byte for byte.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from .base import Extraction
from .openai_common import OpenAIEvents, OpenAIFormat, OpenAISummary, choices

__all__ = ["CHAT", "ChatCompletions", "ChatChunks", "extract_message", "extract_part"]


def extract_message(message: dict[str, Any], out: Extraction) -> None:
    """A message's texts (string content or text parts), images and tool calls."""
    content = message.get("content")
    if isinstance(content, str):
        out.add_text(message, "content")
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                extract_part(part, out)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for i in range(len(calls)):
            out.add_tool_call(calls, i)


def extract_part(part: dict[str, Any], out: Extraction) -> None:
    """A content part: its ``text``, or its ``image_url`` (an object with ``url``, or a string)."""
    if isinstance(part.get("text"), str):
        out.add_text(part, "text")
        return
    image = part.get("image_url")
    if isinstance(image, dict) and isinstance(image.get("url"), str):
        out.add_image(image, "url")
    elif isinstance(image, str):
        out.add_image(part, "image_url")


class ChatChunks(OpenAIEvents):
    """``chat.completion.chunk`` events: text in ``choices[i].delta.content``."""

    def choice_text(self, choice: dict[str, Any]) -> Any:
        delta = choice.get("delta")
        return delta.get("content") if isinstance(delta, dict) else None

    def strip_choice(self, choice: dict[str, Any]) -> tuple[bool, bool, bool]:
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return False, False, False
        role = bool(delta.get("role"))
        had_text = bool(delta.pop("content", None))
        return had_text, role, any(v is not None for v in delta.values())

    def put_text(self, event: dict[str, Any], index: int, text: str) -> None:
        for choice in choices(event):
            if choice.get("index", 0) == index:
                choice.setdefault("delta", {})["content"] = text

    def text_event(self, template: dict[str, Any], index: int, text: str) -> dict[str, Any]:
        head = dict(template)
        head.setdefault("object", "chat.completion.chunk")
        return {**head, "choices": [{"index": index, "delta": {"content": text}, "finish_reason": None}]}

    def summary(self) -> "ChatSummary":
        return ChatSummary(self)

    def from_answer(self, answer: dict[str, Any]) -> list[dict[str, Any]]:
        """Each choice's message as one delta, then one chunk with every finish reason (and the usage)."""
        base = {k: answer.get(k) for k in ("id", "created", "model")}
        base["object"] = "chat.completion.chunk"
        chunks, finishes = [], []
        for choice in choices(answer):
            index = choice.get("index", 0)
            message = choice.get("message") or {}
            delta = {k: v for k, v in message.items() if v is not None}
            chunks.append({**base, "choices": [{"index": index, "delta": delta, "finish_reason": None}]})
            finishes.append({"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")})
        chunks.append({**base, "choices": finishes, **({"usage": answer["usage"]} if answer.get("usage") else {})})
        return chunks


class ChatSummary(OpenAISummary):
    __slots__ = ()

    def response(self, model: str | None) -> dict[str, Any]:
        choice = {"index": 0, "finish_reason": self.finish_reason,
                  "message": {"role": "assistant", "content": self.text()}}
        return {**self.head(model, "chat.completion"), "choices": [choice], "usage": self.usage}


class ChatCompletions(OpenAIFormat):
    name = "openai_chat"
    stream: ChatChunks

    def __init__(self) -> None:
        self.stream = ChatChunks()

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        out = super().extract_request(data)
        messages = data.get("messages")
        if isinstance(messages, list):
            out.structured_messages = messages
            for message in messages:
                if isinstance(message, dict):
                    extract_message(message, out)
        tools = data.get("tools")
        if isinstance(tools, list) and tools:
            out.tools = tools
        return out

    def extract_response(self, answer: dict[str, Any]) -> Extraction:
        out = super().extract_response(answer)
        for choice in choices(answer):
            message = choice.get("message")
            if isinstance(message, dict):
                extract_message(message, out)
        return out

    def answer_text(self, answer: dict[str, Any]) -> str | None:
        """The first choice's message content (``None`` for tool calls only)."""
        found = answer.get("choices")
        if not isinstance(found, list) or not found or not isinstance(found[0], dict):
            return None
        message = found[0].get("message")
        content = message.get("content") if isinstance(message, dict) else None
        return content if isinstance(content, str) else None

    def rejection(self, message: str, model: str | None) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4()}", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": message}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }


CHAT = ChatCompletions()
