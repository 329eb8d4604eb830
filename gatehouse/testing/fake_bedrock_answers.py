"""What the fake Bedrock answers: scripted :class:`Reply` values → Converse JSON, event-stream frames, embeddings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from .aws_wire import event

__all__ = ["Reply", "converse_answer", "stream_frames", "embeddings_answer", "last_user_text"]


@dataclass
class Reply:
    """One scripted answer. The default says ``"Hello! You said: <last user text>"``.

    ``tool_calls``: ``[{"name": …, "input": {…}, "id": …}]`` (answered after the text,
    ``stopReason: tool_use``). ``status`` makes it an AWS error (``error_type``,
    ``message``, ``headers``); ``raw`` a 200 body sent as is. For streams, ``frames``
    replaces the generated frames, ``die_after`` closes the connection after that many
    frames, ``corrupt_at`` flips a byte of that frame's CRC.
    """

    text: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    reasoning: str | None = None
    stop_reason: str | None = None
    usage: dict[str, int] | None = None
    status: int | None = None
    error_type: str = "ValidationException"
    message: str = "fake bedrock error"
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"
    frames: list[bytes] | None = None
    die_after: int | None = None
    corrupt_at: int | None = None
    embedding_size: int = 8


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            texts = [b["text"] for b in message.get("content") or [] if isinstance(b, dict) and "text" in b]
            if texts:
                return " ".join(texts)
    return ""


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text) or [text]


def _text(body: dict[str, Any], reply: Reply) -> str:
    return reply.text if reply.text is not None else f"Hello! You said: {last_user_text(body)}"


def _usage(body: dict[str, Any], text: str, reply: Reply) -> dict[str, int]:
    if reply.usage is not None:
        return reply.usage
    prompt = sum(len(str(b.get("text", "")).split()) for m in body.get("messages") or [] for b in m.get("content") or []
                 if isinstance(b, dict))
    completion = len(text.split())
    return {"inputTokens": prompt, "outputTokens": completion, "totalTokens": prompt + completion}


def _stop(reply: Reply) -> str:
    return reply.stop_reason or ("tool_use" if reply.tool_calls else "end_turn")


def _tool_id(call: dict[str, Any], i: int) -> str:
    return str(call.get("id") or f"tooluse_fake{i}")


def converse_answer(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    text = _text(body, reply)
    content: list[dict[str, Any]] = []
    if reply.reasoning is not None:
        content.append({"reasoningContent": {"reasoningText": {"text": reply.reasoning, "signature": "sig-fake"}}})
    if text:
        content.append({"text": text})
    for i, call in enumerate(reply.tool_calls):
        content.append({"toolUse": {"toolUseId": _tool_id(call, i), "name": call["name"], "input": call.get("input", {})}})
    return {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": _stop(reply),
            "usage": _usage(body, text, reply), "metrics": {"latencyMs": 12}}


def stream_frames(body: dict[str, Any], reply: Reply) -> list[bytes]:
    """The frames of a ConverseStream answer: one text delta per word, tool input in two halves."""
    if reply.frames is not None:
        return reply.frames
    text = _text(body, reply)
    frames = [event("messageStart", {"role": "assistant", "p": "abc"})]
    block = 0
    if reply.reasoning is not None:
        for word in _words(reply.reasoning):
            frames.append(event("contentBlockDelta", {"contentBlockIndex": block,
                                                      "delta": {"reasoningContent": {"text": word}}}))
        frames.append(event("contentBlockDelta", {"contentBlockIndex": block,
                                                  "delta": {"reasoningContent": {"signature": "sig-fake"}}}))
        frames.append(event("contentBlockStop", {"contentBlockIndex": block}))
        block += 1
    if text:
        for word in _words(text):
            frames.append(event("contentBlockDelta", {"contentBlockIndex": block, "delta": {"text": word}, "p": "ab"}))
        frames.append(event("contentBlockStop", {"contentBlockIndex": block}))
        block += 1
    for i, call in enumerate(reply.tool_calls):
        start = {"toolUse": {"toolUseId": _tool_id(call, i), "name": call["name"]}}
        frames.append(event("contentBlockStart", {"contentBlockIndex": block, "start": start}))
        arguments = orjson.dumps(call.get("input", {})).decode()
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            frames.append(event("contentBlockDelta", {"contentBlockIndex": block, "delta": {"toolUse": {"input": piece}}}))
        frames.append(event("contentBlockStop", {"contentBlockIndex": block}))
        block += 1
    frames.append(event("messageStop", {"stopReason": _stop(reply)}))
    frames.append(event("metadata", {"usage": _usage(body, text, reply), "metrics": {"latencyMs": 12}}))
    return frames


def embeddings_answer(model_id: str, body: dict[str, Any], reply: Reply) -> tuple[dict[str, Any], int]:
    """A Titan or Cohere InvokeModel answer, and its input token count."""
    if "cohere" in model_id:
        texts = [str(t) for t in body.get("texts") or []]
        tokens = sum(len(t.split()) for t in texts)
        vectors = [[float(len(t)) + k / 10 for k in range(reply.embedding_size)] for t in texts]
        return {"id": "fake", "embeddings": vectors, "texts": texts, "response_type": "embeddings_floats"}, tokens
    text = str(body.get("inputText", ""))
    size = int(body.get("dimensions") or reply.embedding_size)
    tokens = len(text.split())
    return {"embedding": [float(len(text)) + k / 10 for k in range(size)], "inputTextTokenCount": tokens}, tokens
