"""The other direction: an Anthropic Messages request → an OpenAI chat request, and an OpenAI
``chat.completion`` → an Anthropic message (for a gateway that serves ``/v1/messages``).

Round trips through :mod:`.request` and :mod:`.response` keep what both formats can say:
``cache_control`` stays on the text parts, messages and tools it was on; thinking blocks
travel as LiteLLM's ``thinking_blocks``; Anthropic-only fields (``top_k``, ``thinking``,
``container``, ...) are kept under their own names, which the ``anthropic/`` provider reads
back (an OpenAI-compatible upstream may refuse them: drop them there).
"""

from __future__ import annotations

from typing import Any, Mapping

import orjson

from ...errors import BadRequestError
from .request import NATIVE

__all__ = ["to_openai_request", "to_anthropic_response", "anthropic_usage", "STOP_REASONS",
           "anthropic_error_body", "ERROR_TYPES"]

#: OpenAI ``finish_reason`` → Anthropic ``stop_reason``.
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                "content_filter": "refusal"}
#: HTTP status → Anthropic error ``type`` (others: ``api_error``).
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               504: "timeout_error", 529: "overloaded_error"}
_EFFORTS = ("low", "medium", "high")


def to_openai_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a Messages API body; raise ``BadRequestError`` (naming the field) on a malformed one."""
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _system_content(system)})
    turns = body.get("messages")
    if not isinstance(turns, list) or not turns:
        raise BadRequestError("messages must be a non-empty list", param="messages")
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            raise BadRequestError(f"messages.{i}.role must be user or assistant", param=f"messages.{i}.role")
        messages += _user(turn["content"], i) if turn["role"] == "user" else [_assistant(turn["content"], i)]
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    for key in ("max_tokens", "temperature", "top_p", "stream"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"]
    if body.get("stream") is True:
        out["stream_options"] = {"include_usage": True}
    user = (body.get("metadata") or {}).get("user_id") if isinstance(body.get("metadata"), dict) else None
    if isinstance(user, str) and user:
        out["user"] = user
    _tools(body, out)
    _output_config(body, out)
    for key in NATIVE - {"output_config"}:
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("thinking") is not None:
        out["thinking"] = body["thinking"]
    return out


def _system_content(system: Any) -> Any:
    if isinstance(system, str):
        return system
    if not isinstance(system, list):
        raise BadRequestError("system must be a string or a list of text blocks", param="system")
    parts = [_text_part(b) for b in system if isinstance(b, dict) and b.get("type") == "text"]
    if len(parts) == 1 and "cache_control" not in parts[0]:
        return parts[0]["text"]
    return parts


def _text_part(block: Mapping[str, Any]) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "text", "text": block.get("text") or ""}
    if block.get("cache_control"):
        part["cache_control"] = block["cache_control"]
    return part


def _user(content: Any, i: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise BadRequestError(f"messages.{i}.content must be a string or a list of blocks", param=f"messages.{i}.content")
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            text, images = _tool_result_content(block.get("content"))
            message: dict[str, Any] = {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text}
            if block.get("cache_control"):
                message["cache_control"] = block["cache_control"]
            out.append(message)
            parts += images
        elif isinstance(block, dict):
            parts.append(_user_part(block))
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _tool_result_content(content: Any) -> tuple[str, list[dict[str, Any]]]:
    if isinstance(content, str) or content is None:
        return content or "", []
    blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    text = "\n".join(b.get("text") or "" for b in blocks if b.get("type") == "text")
    return text, [_user_part(b) for b in blocks if b.get("type") != "text"]


def _user_part(block: Mapping[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    found = block.get("source")
    source: dict[str, Any] = found if isinstance(found, dict) else {}
    if kind == "text":
        return _text_part(block)
    if kind == "image" and source.get("type") in ("base64", "url"):
        url = source["url"] if source["type"] == "url" else f"data:{source.get('media_type')};base64,{source.get('data')}"
        part: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
    elif kind == "document" and source.get("type") == "base64":
        part = {"type": "file", "file": {"file_data": f"data:{source.get('media_type')};base64,{source.get('data')}"}}
    elif kind == "document" and source.get("type") == "text":
        part = {"type": "text", "text": source.get("data") or ""}
    else:
        return dict(block)  # Anthropic's own block (search_result, file sources, ...), for the anthropic provider
    if block.get("cache_control"):
        part["cache_control"] = block["cache_control"]
    return part


def _assistant(content: Any, i: int) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if not isinstance(content, list):
        raise BadRequestError(f"messages.{i}.content must be a string or a list of blocks", param=f"messages.{i}.content")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    thinking: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use":
            calls.append({"id": block.get("id"), "type": "function", "function": {
                "name": block.get("name"), "arguments": orjson.dumps(block.get("input") or {}).decode()}})
        elif kind in ("thinking", "redacted_thinking"):
            thinking.append(dict(block))
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["thinking_blocks"] = thinking
    return message


def _tools(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    tools = []
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict):
            continue
        if tool.get("type") not in (None, "custom"):
            if str(tool.get("type")).startswith("web_search"):
                out["web_search_options"] = {}
            else:
                tools.append(tool)  # other server tools: only the anthropic provider can use them
            continue
        function: dict[str, Any] = {"name": tool.get("name"), "parameters": tool.get("input_schema") or {}}
        if tool.get("description"):
            function["description"] = tool["description"]
        entry: dict[str, Any] = {"type": "function", "function": function}
        if tool.get("cache_control"):
            entry["cache_control"] = tool["cache_control"]
        tools.append(entry)
    if tools:
        out["tools"] = tools
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "tool":
            out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
        elif kind in ("auto", "any", "none"):
            out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
        if choice.get("disable_parallel_tool_use") is True:
            out["parallel_tool_calls"] = False


def _output_config(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    config = body.get("output_config")
    if not isinstance(config, dict):
        return
    fmt = config.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        out["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "structured_output", "schema": fmt.get("schema") or {}, "strict": True}}
    if config.get("effort") is not None:
        effort = config["effort"]
        out["reasoning_effort"] = effort if effort in _EFFORTS else "high"


def anthropic_usage(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """OpenAI usage → Anthropic usage (cached prompt tokens come back out of ``input_tokens``)."""
    usage = usage or {}
    found = usage.get("prompt_tokens_details")
    details: Mapping[str, Any] = found if isinstance(found, dict) else {}
    read = int(details.get("cached_tokens") or usage.get("cache_read_input_tokens") or 0)
    written = int(details.get("cache_creation_tokens") or usage.get("cache_creation_input_tokens") or 0)
    return {"input_tokens": max(0, int(usage.get("prompt_tokens") or 0) - read - written),
            "output_tokens": int(usage.get("completion_tokens") or 0),
            "cache_read_input_tokens": read, "cache_creation_input_tokens": written}


def to_anthropic_response(answer: Mapping[str, Any], *, model: str | None = None) -> dict[str, Any]:
    """Translate a ``chat.completion`` (its first choice) into an Anthropic message."""
    choices = answer.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    for block in message.get("thinking_blocks") or ():
        if isinstance(block, dict) and block.get("type") in ("thinking", "redacted_thinking"):
            content.append(dict(block))
    if not content and message.get("reasoning_content"):
        content.append({"type": "thinking", "thinking": message["reasoning_content"], "signature": ""})
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        try:
            arguments = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            arguments = {}
        content.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                        "input": arguments if isinstance(arguments, dict) else {}})
    identifier = str(answer.get("id") or "")
    return {
        "id": identifier if identifier.startswith("msg_") else f"msg_{identifier}", "type": "message",
        "role": "assistant", "model": model or answer.get("model"), "content": content,
        "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn"), "stop_sequence": None,
        "usage": anthropic_usage(answer.get("usage")),
    }


def anthropic_error_body(status: int, message: str) -> dict[str, Any]:
    """The Anthropic error body for a status (``{"type": "error", "error": {"type", "message"}}``)."""
    return {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}}
