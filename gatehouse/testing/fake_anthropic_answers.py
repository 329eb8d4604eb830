"""What the fake Anthropic API answers: scripts, request validation, messages and stream events.

Pure functions of a request body and a :class:`Script`; the server around them is
:mod:`gatehouse.testing.fake_anthropic`. The validation is as strict as
Anthropic's documented API, so a translation that produces a body Anthropic
would refuse fails in the tests too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import orjson

from .fake_answers import split_words

__all__ = ["Script", "validate", "message", "stream_events", "error_body", "TOP_LEVEL_FIELDS"]

#: The Messages API's top-level request fields; anything else is refused as Anthropic does.
TOP_LEVEL_FIELDS = frozenset({
    "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature", "top_p",
    "top_k", "tools", "tool_choice", "thinking", "service_tier", "container", "mcp_servers", "context_management",
    "output_config", "inference_geo", "speed", "cache_control",
})


@dataclass(frozen=True)
class Script:
    """How to answer one request; every field defaults to "behave like Anthropic"."""

    status: int | None = None  # answer this status with an Anthropic error body
    error_type: str = "api_error"  # the error's type (for ``status`` and ``stream_error``)
    error_message: str = "fake anthropic error"
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    delay: float = 0.0  # seconds before answering
    text: str | None = None  # the reply text (default: "Hello! You said: <last user text>")
    chunks: list[str] | None = None  # the streamed text deltas, exactly
    thinking: str | None = None  # a thinking block before the text (signature "sig-fake")
    tool_uses: list[dict[str, Any]] | None = None  # [{"name", "input", "id"?}] tool_use blocks
    stop_reason: str | None = None  # default: tool_use when tool_uses, else end_turn
    usage: dict[str, int] = field(default_factory=dict)  # merged into the usage (cache_* counts)
    model: str | None = None  # the answer's model (default: the request's)
    ignore_stream: bool = False  # answer JSON even when the request asked for a stream
    raw: str | None = None  # an answer body sent verbatim (with ``status``: an error page), for malformed answers
    content_type: str | None = None  # the content type of ``raw``
    events: list[Any] | None = None  # the stream's events exactly (dicts, or str sent verbatim)
    die_after_events: int | None = None  # stream: close the connection after N events
    stream_error_after: int | None = None  # stream: an ``event: error`` after N text deltas
    chunk_delay: float = 0.0  # seconds before each text delta

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Script:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fake_anthropic script keys: {unknown}")
        return cls(**values)


def error_body(kind: str, message: str, request_id: str = "req_fake") -> bytes:
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id})


def validate(body: Any) -> str | None:
    """What Anthropic would refuse in ``body`` (a 400 message), or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    extra = sorted(set(body) - TOP_LEVEL_FIELDS)
    if extra:
        return f"{extra[0]}: Extra inputs are not permitted"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    tokens = body.get("max_tokens")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        return "max_tokens: Field required (an integer >= 1)"
    return _system(body.get("system")) or _messages(body) or _tools(body) or _thinking(body, tokens) or _sampling(body)


def _system(system: Any) -> str | None:
    if system is None or isinstance(system, str):
        return None
    if not isinstance(system, list) or not all(isinstance(b, dict) and b.get("type") == "text" for b in system):
        return "system: Input should be a string or a list of text blocks"
    if any(not b.get("text") for b in system):
        return "system: text content blocks must be non-empty"
    return None


def _messages(body: dict[str, Any]) -> str | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: Field required (a non-empty list)"
    previous_tool_ids: set[str] = set()
    uses_tools = False
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        if isinstance(content, str):
            if not content and i < len(messages) - 1:
                return f"messages.{i}: all messages must have non-empty content"
            previous_tool_ids = set()
            continue
        if not isinstance(content, list) or not content:
            return f"messages.{i}.content: Input should be a string or a non-empty list of blocks"
        problem = _blocks(content, i, previous_tool_ids)
        if problem:
            return problem
        kinds = {b.get("type") for b in content}
        uses_tools = uses_tools or bool(kinds & {"tool_use", "tool_result"})
        previous_tool_ids = {b.get("id") for b in content if b.get("type") == "tool_use"}
    if uses_tools and not body.get("tools"):
        return "Requests which include `tool_use` or `tool_result` blocks must define tools."
    return None


def _blocks(content: list[Any], i: int, tool_ids: set[str]) -> str | None:
    for j, block in enumerate(content):
        where = f"messages.{i}.content.{j}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"{where}: Input should be a content block"
        kind = block["type"]
        if kind == "text" and not block.get("text"):
            return f"{where}: text content blocks must be non-empty"
        if kind == "image" and (block.get("source") or {}).get("type") not in ("base64", "url", "file"):
            return f"{where}.source: Input should be a base64, url or file source"
        if kind == "tool_result" and block.get("tool_use_id") not in tool_ids:
            return (f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: {block.get('tool_use_id')}. "
                    "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.")
        if kind == "tool_use" and not isinstance(block.get("input"), dict):
            return f"{where}.input: Input should be an object"
    return None


def _tools(body: dict[str, Any]) -> str | None:
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            return f"tools.{i}.name: Field required"
        if tool.get("type") in (None, "custom") and (tool.get("input_schema") or {}).get("type") != "object":
            return f"tools.{i}.input_schema.type: Input should be 'object'"
    choice = body.get("tool_choice")
    if choice is not None and (not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none")):
        return "tool_choice: Input should be auto, any, tool or none"
    return None


def _thinking(body: dict[str, Any], max_tokens: int) -> str | None:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if budget >= max_tokens:
        return "`max_tokens` must be greater than `thinking.budget_tokens`"
    return None


def _sampling(body: dict[str, Any]) -> str | None:
    temperature = body.get("temperature")
    if temperature is not None and not (isinstance(temperature, (int, float)) and 0 <= temperature <= 1):
        return "temperature: Input should be less than or equal to 1"
    return None


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        if texts:
            return " ".join(texts)
    return ""


def _input_tokens(body: dict[str, Any]) -> int:
    return max(1, len(orjson.dumps(body.get("messages") or [])) // 16)


def _reply(body: dict[str, Any], script: Script) -> str:
    if script.chunks is not None:
        return "".join(script.chunks)
    if script.text is not None:
        return script.text
    return "" if script.tool_uses else "Hello! You said: " + _last_user_text(body)


def _usage(body: dict[str, Any], script: Script, output: int) -> dict[str, int]:
    return {"input_tokens": _input_tokens(body), "output_tokens": output, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, **script.usage}


def _tool_blocks(script: Script) -> list[dict[str, Any]]:
    return [{"type": "tool_use", "id": use.get("id") or f"toolu_fake_{i}", "name": use["name"],
             "input": use.get("input") or {}} for i, use in enumerate(script.tool_uses or [])]


def message(body: dict[str, Any], script: Script, rid: str) -> dict[str, Any]:
    """The complete answer to ``body``."""
    reply = _reply(body, script)
    content: list[dict[str, Any]] = []
    if script.thinking:
        content.append({"type": "thinking", "thinking": script.thinking, "signature": "sig-fake"})
    if reply:
        content.append({"type": "text", "text": reply})
    content += _tool_blocks(script)
    return {
        "id": f"msg_{rid}", "type": "message", "role": "assistant", "model": script.model or body.get("model"),
        "content": content, "stop_reason": script.stop_reason or ("tool_use" if script.tool_uses else "end_turn"),
        "stop_sequence": None, "usage": _usage(body, script, max(1, len(reply.split()))),
    }


def stream_events(body: dict[str, Any], script: Script, rid: str) -> list[dict[str, Any]]:
    """The stream's events, in Anthropic's documented order (``event: error`` as scripted)."""
    if script.events is not None:
        return list(script.events)
    answer = message(body, script, rid)
    start = {**answer, "content": [], "stop_reason": None, "usage": {**answer["usage"], "output_tokens": 1}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(answer["content"]):
        events += _block_events(index, block, script)
        if index == 0:
            events.append({"type": "ping"})
    if script.stream_error_after is not None:
        deltas = [i for i, e in enumerate(events) if (e.get("delta") or {}).get("type") == "text_delta"]
        cut = deltas[script.stream_error_after] if script.stream_error_after < len(deltas) else len(events)
        error = {"type": script.error_type, "message": script.error_message}
        return events[:cut] + [{"type": "error", "error": error}]
    events.append({"type": "message_delta", "delta": {"stop_reason": answer["stop_reason"], "stop_sequence": None},
                   "usage": {"output_tokens": answer["usage"]["output_tokens"]}})
    events.append({"type": "message_stop"})
    return events


def _block_events(index: int, block: dict[str, Any], script: Script) -> list[dict[str, Any]]:
    kind = block["type"]
    head: dict[str, Any]
    if kind == "text":
        head = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece}
                  for piece in (script.chunks if script.chunks is not None else split_words(block["text"]))]
    elif kind == "thinking":
        head = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in split_words(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        head = {**block, "input": {}}
        text = orjson.dumps(block["input"]).decode()
        half = len(text) // 2
        deltas = [{"type": "input_json_delta", "partial_json": part} for part in (text[:half], text[half:]) if part]
    return ([{"type": "content_block_start", "index": index, "content_block": head}]
            + [{"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas]
            + [{"type": "content_block_stop", "index": index}])
