"""AWS Bedrock Converse ⇄ OpenAI chat: requests, answers and errors (streams: ``bedrock_converse_stream``).

Pure functions, no I/O. :func:`chat_request` turns an OpenAI chat body into a
Converse body (``POST /model/{modelId}/converse``); :func:`chat_answer` turns a
Converse answer into a ``chat.completion``; :func:`error_from` maps a Bedrock
error answer to (status, OpenAI error type, message). Image URLs are fetched
by the provider beforehand and handed in as ``images`` (URL → (format, bytes)).
The mapping tables are in ``docs/providers/bedrock.md``.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import orjson

from ..errors import BadRequestError, UpstreamError

__all__ = ["ConverseOptions", "chat_request", "chat_answer", "finish_reason", "usage", "image_urls",
           "IMAGE_FORMATS", "JSON_TOOL", "model_family", "error_from", "STOP_REASONS"]

#: The tool a ``response_format`` becomes (its input is the answer's text), as LiteLLM names it.
JSON_TOOL = "json_tool_call"
#: Media types Converse takes for images, and its name for each.
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                 "image/webp": "webp"}
DOCUMENT_FORMATS = {"application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc",
                    "text/html": "html", "text/plain": "txt", "text/markdown": "md",
                    "application/vnd.ms-excel": "xls",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx"}
STOP_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter", "content_filtered": "content_filter",
    "model_context_window_exceeded": "length",
}
#: ``reasoning_effort`` → Anthropic ``thinking.budget_tokens`` (LiteLLM's table).
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096}
#: OpenAI fields read by the translation (everything else is unsupported: 400, or dropped).
KNOWN = frozenset({
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature",
    "top_p", "stop", "tools", "tool_choice", "parallel_tool_calls", "response_format", "reasoning_effort",
    "thinking", "top_k", "user", "n", "service_tier", "drop_params", "additional_drop_params",
})
#: Converse's own top-level fields, passed through when a client or a deployment sets them.
NATIVE = ("guardrailConfig", "performanceConfig", "requestMetadata", "additionalModelResponseFieldPaths",
          "promptVariables")
#: Keys of LiteLLM's that are not request fields (credentials, provider settings).
_SETTINGS = frozenset({"modify_params", "mock_response", "fake_upstream"})
_REGION_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")


@dataclass(frozen=True, slots=True)
class ConverseOptions:
    """What the translation needs to know besides the body."""

    family: str = "anthropic"
    """Model family from the model id: ``anthropic``, ``meta``, ``mistral``, ``amazon``, ``cohere``, ..."""
    drop_params: bool = False
    modify_params: bool = False
    images: Mapping[str, tuple[str, bytes]] = field(default_factory=dict)
    """Image URLs already fetched by the provider: URL → (Converse format, bytes)."""


def model_family(model_id: str) -> str:
    """``anthropic`` for ``anthropic.claude-…``, ``us.anthropic.claude-…`` and inference-profile ARNs."""
    model = model_id.rsplit("/", 1)[-1]
    for prefix in _REGION_PREFIXES:
        if model.startswith(prefix):
            model = model[len(prefix):]
            break
    return model.split(".", 1)[0] if "." in model else ""


# -- request ---------------------------------------------------------------------

def chat_request(body: Mapping[str, Any], options: ConverseOptions) -> tuple[dict[str, Any], bool]:
    """The Converse body for an OpenAI chat ``body``; and whether answers carry the JSON tool.

    Raises :class:`BadRequestError` naming a field Bedrock cannot take (unless
    ``drop_params``) or a malformed message.
    """
    drop = options.drop_params or body.get("drop_params") is True
    _check_fields(body, options.family, drop)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("messages must be a non-empty list", param="messages")
    has_tools = bool(body.get("tools")) or _wants_json(body)
    system, turns = _messages(messages, options, has_tools)
    out: dict[str, Any] = {"messages": turns}
    if system:
        out["system"] = system
    inference = _inference(body)
    if inference:
        out["inferenceConfig"] = inference
    extra = _additional_fields(body, options.family, drop)
    json_tool = _tool_config(body, out, drop)
    if extra:
        out["additionalModelRequestFields"] = extra
    for name in NATIVE:
        if body.get(name) is not None:
            out[name] = body[name]
    tier = body.get("service_tier") or body.get("serviceTier")
    if tier:
        out["serviceTier"] = tier if isinstance(tier, dict) else {"type": "default" if tier == "auto" else tier}
    return out, json_tool


def _check_fields(body: Mapping[str, Any], family: str, drop: bool) -> None:
    dropped = set(body.get("additional_drop_params") or ())
    bad = [k for k in body if k not in KNOWN and k not in NATIVE and k not in _SETTINGS and k not in dropped
           and k != "serviceTier" and k != "additionalModelRequestFields" and not k.startswith("aws_")]
    if body.get("n") not in (None, 1):
        bad.append("n")
    if body.get("parallel_tool_calls") is False and family != "anthropic":
        bad.append("parallel_tool_calls")
    if body.get("top_k") is not None and family not in ("anthropic", "mistral", "amazon", "cohere"):
        bad.append("top_k")
    if (body.get("reasoning_effort") or body.get("thinking")) and family not in ("anthropic", "amazon"):
        bad.append("reasoning_effort" if body.get("reasoning_effort") else "thinking")
    if body.get("tool_choice") == "none":
        bad.append("tool_choice")
    if bad and not drop:
        names = ", ".join(repr(b) for b in bad)
        raise BadRequestError(
            f"bedrock does not support parameters: [{names}], for model={body.get('model')}. To drop these, set "
            "`litellm_settings: drop_params: true` (or `drop_params: true` on the deployment or the request)",
            param=bad[0])


def _inference(body: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None:
        config["maxTokens"] = _int(max_tokens, "max_tokens")
    if body.get("temperature") is not None:
        config["temperature"] = body["temperature"]
    if body.get("top_p") is not None:
        config["topP"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        stops = [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str)]
        stops = [s for s in stops if s]
        if stops:
            config["stopSequences"] = stops
    return config


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequestError(f"{name} must be an integer", param=name)
    return max(1, int(round(value)))


def _additional_fields(body: Mapping[str, Any], family: str, drop: bool) -> dict[str, Any]:
    extra: dict[str, Any] = dict(body.get("additionalModelRequestFields") or {})
    if body.get("top_k") is not None and family != "amazon":
        extra["top_k"] = body["top_k"]
    elif body.get("top_k") is not None:
        extra.setdefault("inferenceConfig", {})["topK"] = body["top_k"]
    thinking, effort = body.get("thinking"), body.get("reasoning_effort")
    if family == "anthropic":
        if isinstance(thinking, dict):
            extra["thinking"] = thinking
        elif isinstance(effort, str) and effort in THINKING_BUDGETS:
            extra["thinking"] = {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}
        if body.get("parallel_tool_calls") is False:
            extra["tool_choice"] = {**extra.get("tool_choice", {"type": "auto"}), "disable_parallel_tool_use": True}
    elif family == "amazon" and isinstance(effort, str) and effort in THINKING_BUDGETS:
        level = "low" if effort == "minimal" else effort
        extra["reasoningConfig"] = {"type": "enabled", "maxReasoningEffort": level}
    return extra


def _wants_json(body: Mapping[str, Any]) -> bool:
    fmt = body.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object")


def _tool_config(body: Mapping[str, Any], out: dict[str, Any], drop: bool) -> bool:
    """``toolConfig`` from ``tools``/``tool_choice``/``response_format``; True when the JSON tool is forced."""
    tools: list[dict[str, Any]] = []
    for i, tool in enumerate(body.get("tools") or []):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise BadRequestError(f"tools[{i}] must be {{'type': 'function', 'function': {{'name': ...}}}}",
                                  param=f"tools[{i}]")
        spec: dict[str, Any] = {"name": fn["name"],
                                "inputSchema": {"json": fn.get("parameters") or {"type": "object", "properties": {}}}}
        if fn.get("description"):
            spec["description"] = fn["description"]
        tools.append({"toolSpec": spec})
        if tool.get("cache_control"):
            tools.append({"cachePoint": {"type": "default"}})
    choice = _tool_choice(body.get("tool_choice"))
    json_tool = _wants_json(body)
    if json_tool:
        fmt = body["response_format"]
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
        tools.append({"toolSpec": {"name": JSON_TOOL, "description": "Answer in this JSON format",
                                   "inputSchema": {"json": schema or {"type": "object"}}}})
        choice = {"tool": {"name": JSON_TOOL}}
    if not tools:
        return False
    config: dict[str, Any] = {"tools": tools}
    if choice is not None:
        config["toolChoice"] = choice
    out["toolConfig"] = config
    return json_tool


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None or choice == "none":
        return None
    if choice == "auto":
        return {"auto": {}}
    if choice == "required":
        return {"any": {}}
    if isinstance(choice, dict) and isinstance((choice.get("function") or {}).get("name"), str):
        return {"tool": {"name": choice["function"]["name"]}}
    raise BadRequestError("tool_choice must be 'auto', 'required', 'none' or a named function", param="tool_choice")


def _messages(messages: list[Any], options: ConverseOptions,
              has_tools: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequestError(f"messages[{i}] must be an object", param=f"messages[{i}]")
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_system_blocks(message.get("content"), i))
            continue
        if role == "user":
            role, blocks = "user", _content_blocks(message.get("content"), i, options)
        elif role == "assistant":
            role, blocks = "assistant", _assistant_blocks(message, i, has_tools)
        elif role in ("tool", "function"):
            role, blocks = "user", [_tool_result(message, i, options, has_tools)]
        else:
            raise BadRequestError(f"messages[{i}].role '{role}' is not supported by bedrock", param=f"messages[{i}]")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:  # Converse needs alternating roles: merge
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if turns and turns[0]["role"] == "assistant" and options.modify_params:
        turns.insert(0, {"role": "user", "content": [{"text": "."}]})
    return system, turns


def _system_blocks(content: Any, i: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in _parts(content, i):
        if part.get("type") == "text" and part.get("text"):
            blocks.append({"text": part["text"]})
            if part.get("cache_control"):
                blocks.append({"cachePoint": {"type": "default"}})
    return blocks


def _parts(content: Any, i: int) -> list[dict[str, Any]]:
    if content is None:
        return []
    if not isinstance(content, list) or not all(isinstance(p, dict) for p in content):
        raise BadRequestError(f"messages[{i}].content must be a string or a list of parts", param=f"messages[{i}]")
    return content


def _content_blocks(content: Any, i: int, options: ConverseOptions) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    blocks: list[dict[str, Any]] = []
    for part in _parts(content, i):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append({"text": part["text"]})
        elif kind == "image_url":
            blocks.append(_image(part.get("image_url"), i, options))
        elif kind == "file":
            blocks.append(_document(part.get("file"), i, len(blocks)))
        else:
            raise BadRequestError(f"messages[{i}]: content part type '{kind}' is not supported by bedrock",
                                  param=f"messages[{i}].content")
        if part.get("cache_control"):
            blocks.append({"cachePoint": {"type": "default"}})
    return blocks


def image_urls(body: Mapping[str, Any]) -> list[str]:
    """The ``http(s)`` image URLs in ``body``'s messages (the provider fetches them)."""
    urls: list[str] = []
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                url = _url_of(part.get("image_url"))
                if url.startswith(("http://", "https://")) and url not in urls:
                    urls.append(url)
    return urls


def _url_of(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("url")
    return value if isinstance(value, str) else ""


def _image(value: Any, i: int, options: ConverseOptions) -> dict[str, Any]:
    url = _url_of(value)
    if url.startswith("data:"):
        media, _, data = url[5:].partition(",")
        media_type = media.split(";", 1)[0].lower()
        if media_type not in IMAGE_FORMATS or not media.endswith(";base64"):
            raise BadRequestError(f"messages[{i}]: image data URI must be base64 png, jpeg, gif or webp",
                                  param=f"messages[{i}].content")
        return {"image": {"format": IMAGE_FORMATS[media_type], "source": {"bytes": data}}}
    if url.startswith("s3://"):
        fmt = IMAGE_FORMATS.get("image/" + url.rsplit(".", 1)[-1].lower(), "png")
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": url}}}}
    fetched = options.images.get(url)
    if fetched is None:
        raise BadRequestError(f"messages[{i}]: image_url must be a data URI, an http(s) URL or an s3:// URI",
                              param=f"messages[{i}].content")
    return {"image": {"format": fetched[0], "source": {"bytes": base64.b64encode(fetched[1]).decode()}}}


def _document(value: Any, i: int, n: int) -> dict[str, Any]:
    data = value.get("file_data") if isinstance(value, dict) else None
    if not isinstance(data, str) or not data.startswith("data:"):
        raise BadRequestError(f"messages[{i}]: file parts need file_data as a base64 data URI",
                              param=f"messages[{i}].content")
    media, _, payload = data[5:].partition(",")
    fmt = DOCUMENT_FORMATS.get(media.split(";", 1)[0].lower())
    if fmt is None:
        raise BadRequestError(f"messages[{i}]: file type '{media}' is not supported by bedrock",
                              param=f"messages[{i}].content")
    name = str(value.get("filename") or f"document-{i}-{n}").rsplit(".", 1)[0]  # type: ignore[union-attr]
    name = "".join(c if c.isalnum() or c in " -()[]" else "-" for c in name)[:200] or "document"
    return {"document": {"format": fmt, "name": name, "source": {"bytes": payload}}}


def _assistant_blocks(message: dict[str, Any], i: int, has_tools: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for block in message.get("thinking_blocks") or ():
        if isinstance(block, dict) and block.get("type") == "thinking" and block.get("signature"):
            blocks.append({"reasoningContent": {"reasoningText": {"text": block.get("thinking", ""),
                                                                  "signature": block["signature"]}}})
        elif isinstance(block, dict) and block.get("type") == "redacted_thinking":
            blocks.append({"reasoningContent": {"redactedContent": block.get("data", "")}})
    content = message.get("content")
    if isinstance(content, str):
        if content:
            blocks.append({"text": content})
    else:
        blocks.extend({"text": p["text"]} for p in _parts(content, i) if p.get("type") == "text" and p.get("text"))
    for call in message.get("tool_calls") or ():
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            raise BadRequestError(f"messages[{i}].tool_calls must be function calls", param=f"messages[{i}]")
        arguments = fn.get("arguments") or "{}"
        if has_tools:
            blocks.append({"toolUse": {"toolUseId": call.get("id"), "name": fn.get("name"),
                                       "input": _arguments(arguments, i)}})
        else:  # Converse refuses tool blocks without toolConfig: the history becomes text (as LiteLLM)
            blocks.append({"text": f"[tool call {call.get('id')}: {fn.get('name')}({arguments})]"})
    return blocks


def _arguments(arguments: Any, i: int) -> Any:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = orjson.loads(arguments)
    except (orjson.JSONDecodeError, TypeError):
        raise BadRequestError(f"messages[{i}]: tool call arguments are not JSON", param=f"messages[{i}]") from None
    return value if isinstance(value, dict) else {"value": value}


def _tool_result(message: dict[str, Any], i: int, options: ConverseOptions, has_tools: bool) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str) or content is None:
        parts: list[dict[str, Any]] = [{"text": content or "."}]
    else:
        parts = [b for b in _content_blocks(content, i, options) if "cachePoint" not in b] or [{"text": "."}]
    call_id = message.get("tool_call_id") or message.get("name")
    if not has_tools:
        text = " ".join(p.get("text", "") for p in parts if "text" in p)
        return {"text": f"[tool result for {call_id}: {text}]"}
    return {"toolResult": {"toolUseId": call_id, "content": parts}}


# -- answer ----------------------------------------------------------------------

def finish_reason(stop_reason: Any, json_tool: bool = False) -> str:
    reason = STOP_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"
    return "stop" if json_tool and reason == "tool_calls" else reason


def usage(native: Any) -> dict[str, Any]:
    """Converse ``usage`` → OpenAI usage (prompt = input + cache read + cache write)."""
    u = native if isinstance(native, dict) else {}
    read, write = int(u.get("cacheReadInputTokens") or 0), int(u.get("cacheWriteInputTokens") or 0)
    prompt = int(u.get("inputTokens") or 0) + read + write
    completion = int(u.get("outputTokens") or 0)
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": int(u.get("totalTokens") or prompt + completion)}
    if read or write or "cacheReadInputTokens" in u:
        out["prompt_tokens_details"] = {"cached_tokens": read}
        out["cache_read_input_tokens"] = read
        out["cache_creation_input_tokens"] = write
    return out


def chat_answer(native: Any, model: str, json_tool: bool = False) -> dict[str, Any]:
    """A Converse answer as a ``chat.completion``; raises a 502 for a body that is not one."""
    message = ((native.get("output") or {}).get("message") or {}) if isinstance(native, dict) else None
    blocks = message.get("content") if isinstance(message, dict) else None
    if not isinstance(blocks, list):
        raise UpstreamError("Bedrock answered with a body that is not a Converse answer", status=502)
    out = _message(blocks, json_tool)
    return {
        "id": f"chatcmpl-{uuid.uuid4()}", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": out, "finish_reason": finish_reason(native.get("stopReason"), json_tool)}],
        "usage": usage(native.get("usage")),
    }


def _message(blocks: Iterable[Any], json_tool: bool) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    reasoning: list[str] = []
    thinking: list[dict[str, Any]] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if "text" in block:
            texts.append(str(block["text"]))
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            arguments = orjson.dumps(use.get("input") or {}).decode()
            if json_tool and use.get("name") == JSON_TOOL:
                texts.append(arguments)
                continue
            calls.append({"id": use.get("toolUseId"), "type": "function",
                          "function": {"name": use.get("name"), "arguments": arguments}})
        elif isinstance(block.get("reasoningContent"), dict):
            _reasoning(block["reasoningContent"], reasoning, thinking)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(reasoning)
        message["thinking_blocks"] = thinking
    return message


def _reasoning(content: dict[str, Any], reasoning: list[str], thinking: list[dict[str, Any]]) -> None:
    text = content.get("reasoningText")
    if isinstance(text, dict):
        reasoning.append(str(text.get("text", "")))
        thinking.append({"type": "thinking", "thinking": text.get("text", ""), "signature": text.get("signature")})
    elif content.get("redactedContent") is not None:
        thinking.append({"type": "redacted_thinking", "data": content["redactedContent"]})


# -- errors ----------------------------------------------------------------------

#: Bedrock exception name → (status, OpenAI error type). Unlisted names keep their HTTP status.
ERRORS: Mapping[str, tuple[int, str]] = {
    "ValidationException": (400, "invalid_request_error"),
    "AccessDeniedException": (403, "permission_error"),
    "UnrecognizedClientException": (401, "authentication_error"),
    "ExpiredTokenException": (401, "authentication_error"),
    "InvalidSignatureException": (403, "permission_error"),
    "ResourceNotFoundException": (404, "invalid_request_error"),
    "ThrottlingException": (429, "rate_limit_error"),
    "ServiceQuotaExceededException": (429, "rate_limit_error"),
    "ModelNotReadyException": (429, "rate_limit_error"),
    "ModelTimeoutException": (408, "invalid_request_error"),
    "ModelErrorException": (502, "internal_server_error"),
    "ModelStreamErrorException": (502, "internal_server_error"),
    "InternalServerException": (500, "internal_server_error"),
    "ServiceUnavailableException": (503, "internal_server_error"),
}


def error_from(status: int, error_type: str | None, raw: bytes) -> tuple[int, str, str]:
    """(status, OpenAI type, message) for a Bedrock error answer.

    ``error_type`` is the ``x-amzn-ErrorType`` header (``ThrottlingException:http://…``)
    or an event-stream ``:exception-type`` (``throttlingException``).
    """
    name = (error_type or "").split(":", 1)[0]
    name = name[:1].upper() + name[1:]
    message = ""
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("Message") or "")
        name = name or str(body.get("__type") or "").rsplit("#", 1)[-1]
    mapped = ERRORS.get(name)
    if mapped is None:
        mapped = (status, "rate_limit_error" if status == 429 else
                  "internal_server_error" if status >= 500 else "invalid_request_error")
    text = f"{name}: {message}" if name and message else message or name or f"HTTP {status}"
    if "must start with a user message" in message:
        text += " (set `litellm_settings: modify_params: true` to let Gatehouse insert a user turn)"
    return mapped[0], mapped[1], text
