"""An Anthropic Messages answer → an OpenAI ``chat.completion``; usage, finish reasons, errors.

* text blocks → ``message.content`` (joined); ``tool_use`` blocks → ``message.tool_calls``
  (``arguments`` = the input as a JSON string); ``thinking`` blocks → ``reasoning_content``
  (joined) and ``thinking_blocks`` (LiteLLM's fields, with signatures, so a client can send
  them back); ``redacted_thinking`` → ``thinking_blocks``; other blocks (server tools) are
  not part of the OpenAI shape and are left out;
* with ``json_tool`` (``response_format`` answered through a tool), the ``json_tool_call``
  input becomes the text and the finish reason ``stop``;
* ``stop_reason`` → ``finish_reason`` by :data:`FINISH_REASONS` (unknown → ``stop``);
* usage per :func:`openai_usage`.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import orjson

from ...errors import type_for_status
from .request import JSON_TOOL_NAME

__all__ = ["FINISH_REASONS", "finish_reason", "openai_usage", "to_openai_response", "error_from_anthropic",
           "ERROR_STATUS"]

FINISH_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter",
}
#: Anthropic statuses the OpenAI SDK would misread: 529 overloaded → 503 (OpenAI's "overloaded",
#: retryable), 413 request_too_large → 400 (the SDK's BadRequestError, as LiteLLM).
ERROR_STATUS = {529: 503, 413: 400}


def finish_reason(stop_reason: Any) -> str:
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def openai_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic usage → OpenAI usage: cache reads and writes count as prompt tokens,
    ``prompt_tokens_details.cached_tokens`` = cache reads; LiteLLM's extra fields kept."""
    read = usage.get("cache_read_input_tokens") or 0
    written = usage.get("cache_creation_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + read + written
    completion = usage.get("output_tokens") or 0
    return {
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read, "cache_creation_tokens": written},
        "cache_read_input_tokens": read, "cache_creation_input_tokens": written,
    }


def to_openai_response(answer: Mapping[str, Any], *, model: str | None = None, json_tool: bool = False,
                       created: int | None = None) -> dict[str, Any]:
    """Translate a Messages answer. ``model``: the name to report (default the answer's)."""
    texts: list[str] = []
    reasoning: list[str] = []
    thinking_blocks: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    json_text: str | None = None
    for block in answer.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            if json_tool and block.get("name") == JSON_TOOL_NAME:
                json_text = arguments
                continue
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": arguments}})
        elif kind == "thinking":
            reasoning.append(block.get("thinking") or "")
            thinking_blocks.append({"type": "thinking", "thinking": block.get("thinking") or "",
                                    "signature": block.get("signature") or ""})
        elif kind == "redacted_thinking":
            thinking_blocks.append({"type": "redacted_thinking", "data": block.get("data") or ""})
    finish = finish_reason(answer.get("stop_reason"))
    if json_text is not None:
        texts.append(json_text)
        if not calls and finish == "tool_calls":
            finish = "stop"
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if thinking_blocks:
        message["reasoning_content"] = "".join(reasoning)
        message["thinking_blocks"] = thinking_blocks
    usage = answer.get("usage")
    return {
        "id": answer.get("id"), "object": "chat.completion", "created": created or int(time.time()),
        "model": model or answer.get("model"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": openai_usage(usage if isinstance(usage, Mapping) else {}),
    }


def error_from_anthropic(status: int, body: bytes | Mapping[str, Any] | None) -> tuple[int, str, str]:
    """An Anthropic error answer → ``(status, OpenAI error type, message)`` for the client.

    ``body`` is ``{"type": "error", "error": {"type", "message"}}`` (raw bytes or parsed), or
    anything else (an HTML page from a proxy): then the message names only the status. An
    ``overloaded_error`` is a 503 whatever its status (also mid-stream, where it arrives as an
    event of a 200 answer); other errors in a 200 answer are 500s.
    """
    parsed: Any = body
    if isinstance(body, (bytes, bytearray)):
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
    error = parsed.get("error") if isinstance(parsed, Mapping) else None
    kind = error.get("type") if isinstance(error, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else None
    text = str(message) if message else f"Anthropic answered HTTP {status}"
    if kind == "overloaded_error":
        status = 529
    elif status < 400:
        status = 500
    status = ERROR_STATUS.get(status, status)
    return status, type_for_status(status), text
