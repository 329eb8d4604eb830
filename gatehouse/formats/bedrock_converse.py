"""AWS Bedrock Converse ⇄ OpenAI chat: requests, answers and errors.

Messages are translated in ``bedrock_converse_messages``, stream events in
``bedrock_converse_stream``.

Pure functions, no I/O. :func:`chat_request` turns an OpenAI chat body into a
Converse body (``POST /model/{modelId}/converse``); :func:`chat_answer` turns a
Converse answer into a ``chat.completion``; :func:`error_from` maps a Bedrock
error answer to (status, OpenAI error type, message). Image URLs are fetched
by the provider beforehand and handed in as ``images`` (URL → (format, bytes)).
The mapping tables are in ``docs/providers/bedrock.md``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import orjson

from ..errors import BadRequestError, UpstreamError
from .bedrock_converse_messages import IMAGE_FORMATS, converse_messages, image_urls

__all__ = ["ConverseOptions", "chat_request", "chat_answer", "finish_reason", "usage", "image_urls",
           "IMAGE_FORMATS", "JSON_TOOL", "model_family", "error_from", "STOP_REASONS"]

#: The tool a ``response_format`` becomes (its input is the answer's text), as LiteLLM names it.
JSON_TOOL = "json_tool_call"
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
    system, turns = converse_messages(messages, options.images, modify_params=options.modify_params,
                                      has_tools=has_tools)
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
