"""Answers the gateway writes itself: a pre-call hook's message, and any complete answer as a stream."""

from __future__ import annotations

import time
import uuid
from typing import Any, AsyncIterator

from .replies import SSE_DONE, sse_frame

__all__ = ["rejection_body", "rejection_frames", "as_chunks"]


def rejection_body(kind: str, message: str, model: str | None) -> dict[str, Any]:
    """A pre-call hook's string, answered as the seed documents (``chat`` or ``text`` completion)."""
    now = int(time.time())
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    if kind == "chat":
        return {
            "id": f"chatcmpl-{uuid.uuid4()}", "object": "chat.completion", "created": now, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": message}, "finish_reason": "stop"}],
            "usage": usage,
        }
    return {
        "id": f"cmpl-{uuid.uuid4()}", "object": "text_completion", "created": now, "model": model,
        "choices": [{"index": 0, "text": message, "finish_reason": "stop", "logprobs": None}], "usage": usage,
    }


async def rejection_frames(kind: str, message: str, model: str | None) -> AsyncIterator[bytes]:
    """The same answer as SSE frames, then ``[DONE]`` (for streaming requests)."""
    for chunk in as_chunks(rejection_body(kind, message, model)):
        yield sse_frame(chunk)
    yield SSE_DONE


def as_chunks(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A complete chat or text completion as stream chunks: each choice's content, then the finish chunk."""
    chat = answer.get("object") == "chat.completion"
    base = {k: answer.get(k) for k in ("id", "created", "model")}
    base["object"] = "chat.completion.chunk" if chat else "text_completion"
    chunks, finishes = [], []
    for choice in answer.get("choices") or []:
        index = choice.get("index", 0)
        if chat:
            message = choice.get("message") or {}
            delta = {k: v for k, v in message.items() if v is not None}
            chunks.append({**base, "choices": [{"index": index, "delta": delta, "finish_reason": None}]})
            finishes.append({"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")})
        else:
            chunks.append({**base, "choices": [{"index": index, "text": choice.get("text", ""), "finish_reason": None}]})
            finishes.append({"index": index, "text": "", "finish_reason": choice.get("finish_reason")})
    chunks.append({**base, "choices": finishes, **({"usage": answer["usage"]} if answer.get("usage") else {})})
    return chunks
