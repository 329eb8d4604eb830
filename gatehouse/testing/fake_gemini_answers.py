"""What the fake Gemini server answers: behaviours and Gemini-format answer builders.

Pure functions of a request body and a :class:`GeminiBehaviour`; the server
around them is :mod:`gatehouse.testing.fake_gemini`. Shapes follow Google's
``GenerateContentResponse`` (camelCase JSON), the embeddings answers of
AI Studio (``embedContent`` / ``batchEmbedContents``) and Vertex (``predict``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .fake_answers import _vector, split_words

__all__ = ["GeminiBehaviour", "generate", "stream_events", "embeddings", "last_user_text", "error_body"]


@dataclass(frozen=True)
class GeminiBehaviour:
    """How to answer one request; every field defaults to "behave normally"."""

    reply: str | None = None  # the answer text (default "Hello! You said: <last user text>")
    chunks: list[str] | None = None  # streamed text pieces, exactly (default: one per word)
    thoughts: str | None = None  # a thought part (thinking) before the text
    function_calls: list[dict[str, Any]] | None = None  # [{"name", "args", "thoughtSignature"?, "id"?}]
    finish_reason: str = "STOP"
    block_reason: str | None = None  # promptFeedback.blockReason, no candidates
    usage: dict[str, Any] | None = None  # merged into the computed usageMetadata
    status: int | None = None  # answer this status with ``error`` (Google's error shape)
    error: dict[str, Any] | None = None  # {"code", "message", "status", "details"?}
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None  # answer this body verbatim (e.g. HTML), with ``content_type``
    content_type: str = "application/json"
    raw_events: list[str] | None = None  # a stream of these SSE frames, verbatim ("data: ...\n\n")
    die_after: int | None = None  # close the connection after N stream events
    error_after: int | None = None  # after N stream events send ``{"error": error}`` and stop
    no_finish: bool = False  # a stream whose last event has no finishReason
    delay: float = 0.0
    dims: int = 8  # embedding size

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GeminiBehaviour:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fake Gemini behaviour keys: {unknown}")
        return cls(**values)


def error_body(code: int, message: str, status: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Google's error answer: ``{"error": {"code", "message", "status", "details"}}``."""
    return {"error": {"code": code, "message": message, "status": status, **({"details": details} if details else {})}}


def last_user_text(body: dict[str, Any]) -> str:
    for content in reversed(body.get("contents") or []):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            texts = [p["text"] for p in content.get("parts") or [] if isinstance(p, dict) and "text" in p]
            if texts:
                return " ".join(texts)
    return ""


def _words(body: dict[str, Any]) -> int:
    total = 0
    for content in body.get("contents") or []:
        for part in (content or {}).get("parts") or []:
            total += len(str(part.get("text", "")).split()) if isinstance(part, dict) else 0
    system = body.get("systemInstruction") or body.get("system_instruction") or {}
    return total + sum(len(str(p.get("text", "")).split()) for p in system.get("parts") or [])


def _usage(body: dict[str, Any], b: GeminiBehaviour, text: str) -> dict[str, Any]:
    prompt, out = _words(body), len(text.split())
    thoughts = len(b.thoughts.split()) if b.thoughts else 0
    usage: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": out,
                             "totalTokenCount": prompt + out + thoughts}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return {**usage, **(b.usage or {})}


def _text(body: dict[str, Any], b: GeminiBehaviour) -> str:
    if b.chunks is not None:
        return "".join(b.chunks)
    if b.reply is not None:
        return b.reply
    return "" if b.function_calls else "Hello! You said: " + last_user_text(body)


def _parts(b: GeminiBehaviour, text: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": b.thoughts, "thought": True}] if b.thoughts else []
    if text:
        parts.append({"text": text})
    for call in b.function_calls or []:
        part: dict[str, Any] = {"functionCall": {k: v for k, v in call.items() if k != "thoughtSignature"}}
        if call.get("thoughtSignature"):
            part["thoughtSignature"] = call["thoughtSignature"]
        parts.append(part)
    return parts


def generate(body: dict[str, Any], b: GeminiBehaviour, model: str, rid: str) -> dict[str, Any]:
    """The ``generateContent`` answer."""
    text = _text(body, b)
    answer: dict[str, Any] = {"modelVersion": model, "responseId": rid}
    if b.block_reason:
        answer["promptFeedback"] = {"blockReason": b.block_reason}
        answer["usageMetadata"] = {"promptTokenCount": _words(body), "totalTokenCount": _words(body)}
        return answer
    count = int((body.get("generationConfig") or {}).get("candidateCount") or 1)
    answer["candidates"] = [{"content": {"role": "model", "parts": _parts(b, text)}, "finishReason": b.finish_reason,
                             "index": i} for i in range(count)]
    answer["usageMetadata"] = _usage(body, b, text)
    return answer


def stream_events(body: dict[str, Any], b: GeminiBehaviour, model: str, rid: str) -> list[dict[str, Any]]:
    """The ``streamGenerateContent`` events: thoughts, text pieces, function calls, then the finish."""
    if b.block_reason:
        return [generate(body, b, model, rid)]
    text = _text(body, b)
    pieces: list[dict[str, Any]] = [{"text": b.thoughts, "thought": True}] if b.thoughts else []
    pieces += [{"text": t} for t in (b.chunks if b.chunks is not None else split_words(text))]
    pieces += _parts(GeminiBehaviour(function_calls=b.function_calls), "")
    events: list[dict[str, Any]] = []
    for part in pieces or [{"text": ""}]:
        events.append({"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}],
                       "usageMetadata": {"promptTokenCount": _words(body)}, "modelVersion": model, "responseId": rid})
    if not b.no_finish:
        events[-1]["candidates"][0]["finishReason"] = b.finish_reason
        events[-1]["usageMetadata"] = _usage(body, b, text)
    return events


def embeddings(method: str, body: dict[str, Any], b: GeminiBehaviour) -> dict[str, Any]:
    """``embedContent`` / ``batchEmbedContents`` (AI Studio) or ``predict`` (Vertex)."""
    def size(config: dict[str, Any]) -> int:
        return int(config.get("outputDimensionality") or b.dims)

    if method == "embedContent":
        text = " ".join(p.get("text", "") for p in (body.get("content") or {}).get("parts") or [])
        return {"embedding": {"values": _vector(text, size(body))}}
    if method == "batchEmbedContents":
        out = []
        for request in body.get("requests") or []:
            text = " ".join(p.get("text", "") for p in (request.get("content") or {}).get("parts") or [])
            out.append({"values": _vector(text, size(request))})
        return {"embeddings": out}
    dims = size(body.get("parameters") or {})
    return {"predictions": [{"embeddings": {"values": _vector(str(i.get("content", "")), dims),
                                            "statistics": {"token_count": len(str(i.get("content", "")).split()),
                                                           "truncated": False}}}
                            for i in body.get("instances") or []]}
