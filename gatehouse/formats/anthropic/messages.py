"""Anthropic's Messages API as a client-facing format: what ``/v1/messages`` speaks.

    request   {"model", "max_tokens", "messages": [{"role", "content": str | [blocks]}], "system"?: str | [blocks],
               "tools"?, "tool_choice"?, "thinking"?, "metadata"?: {"user_id"}, "stream"?, ...}
    answer    {"id": "msg_…", "type": "message", "role": "assistant", "model",
               "content": [{"type": "text", "text"} | {"type": "tool_use", "id", "name", "input"} | thinking…],
               "stop_reason", "stop_sequence", "usage": {"input_tokens", "output_tokens", "cache_*"}}
    error     {"type": "error", "error": {"type", "message"}}   (the status the ``anthropic`` SDK maps)
    stream    named SSE events (:mod:`.messages_stream`)

What guardrails see of a request: the ``system`` text (a string or each text
block), then every message's text (string content, ``text`` blocks, the
text of ``tool_result`` blocks, text documents), in order; images (a URL
source, or a base64 source as a ``data:`` URL); the assistant's ``tool_use``
blocks as OpenAI tool calls; the tools in OpenAI's function shape; and the
conversation as OpenAI chat messages (``structured_messages``), so a
guardrail service sees what it sees on ``/v1/chat/completions``. Rewrites are
written back in place, into the Anthropic blocks. Of an answer: its text
blocks and ``tool_use`` blocks. Post-call rules check the answer's text
blocks, joined.

Providers speak OpenAI: :meth:`AnthropicMessages.to_provider` translates a
request for a deployment that does not speak this format natively, and
:meth:`~AnthropicMessages.from_provider` its answer back; a deployment that
does (:class:`gatehouse.providers.base.SpeaksNatively`) gets the body as
sent. Only ``metadata.user_id`` of the client's ``metadata`` is Anthropic's;
the rest of ``metadata`` is the gateway's, as on every endpoint.
"""

from __future__ import annotations

import uuid
from typing import Any, Mapping

import orjson

from ...errors import BadRequestError, GatewayError, UpstreamError
from ..base import Extraction
from .messages_stream import MessageEvents
from .request import NATIVE
from .reverse import ERROR_TYPES, to_anthropic_response, to_openai_request

__all__ = ["AnthropicMessages", "MESSAGES", "anthropic_error_type", "KNOWN_ERROR_TYPES", "estimate_input_tokens",
           "native_error", "REQUEST_FIELDS"]

#: Error ``type`` values of Anthropic's API: an error that already carries one keeps it.
KNOWN_ERROR_TYPES = frozenset(ERROR_TYPES.values()) | {"api_error"}
#: The Messages API's top-level request fields (a deployment's defaults for these reach a native call).
REQUEST_FIELDS = frozenset({
    "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature", "top_p",
    "top_k", "tools", "tool_choice", "thinking", "service_tier", "container", "mcp_servers", "context_management",
    "output_config", "inference_geo", "speed", "cache_control",
})
#: Request fields only Anthropic's API takes: not sent to a translated deployment.
_ANTHROPIC_ONLY = NATIVE | {"thinking"}


#: Anthropic error ``type`` → the HTTP status Anthropic answers it with.
_STATUS_OF = {kind: status for status, kind in ERROR_TYPES.items()} | {"api_error": 500}


def native_error(status: int, body: Any) -> tuple[int, str, str]:
    """An error from an Anthropic-format API, kept as it is: ``(status, Anthropic type, message)``.

    ``body`` is Anthropic's ``{"type": "error", "error": {...}}`` (raw or parsed), or
    anything else (the type then follows the status). An ``error`` event inside a 200
    stream gets the status its type stands for (``overloaded_error`` → 529)."""
    parsed: Any = body
    if isinstance(body, (bytes, bytearray)):
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
    error = parsed.get("error") if isinstance(parsed, Mapping) else None
    kind = error.get("type") if isinstance(error, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else None
    if status < 400:
        status = _STATUS_OF.get(str(kind), 500)
    if not isinstance(kind, str) or not kind:
        kind = ERROR_TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")
    return status, kind, str(message) if message else f"the upstream answered HTTP {status}"


#: Gatehouse's own error types that have an Anthropic counterpart (the status stays the gateway's).
_OWN_TYPES = {"budget_exceeded": "billing_error"}


def anthropic_error_type(error: GatewayError) -> str:
    """The Anthropic ``type`` of an error: an upstream's own when it is one of Anthropic's, else by status."""
    if isinstance(error, UpstreamError) and error.type in KNOWN_ERROR_TYPES:
        return str(error.type)
    if error.type in _OWN_TYPES:
        return _OWN_TYPES[str(error.type)]
    found = ERROR_TYPES.get(error.status)
    if found is not None:
        return found
    return "invalid_request_error" if error.status < 500 else "api_error"


class _DataURL:
    """A base64 image source seen as one ``data:`` URL (read and written as ``slot["url"]``)."""

    __slots__ = ("source",)

    def __init__(self, source: dict[str, Any]) -> None:
        self.source = source

    def __getitem__(self, key: str) -> str:
        return f"data:{self.source.get('media_type')};base64,{self.source.get('data')}"

    def __setitem__(self, key: str, value: str) -> None:
        head, _, data = value.partition(",")
        if head.startswith("data:") and head.endswith(";base64"):
            self.source["media_type"], self.source["data"] = head[5:-7], data
        else:  # the guardrail answered a URL: the image now comes from there
            self.source.clear()
            self.source.update(type="url", url=value)


class _ToolUse:
    """A ``tool_use`` block seen as an OpenAI tool call (``slot[0]``), written back into the block."""

    __slots__ = ("block",)

    def __init__(self, block: dict[str, Any]) -> None:
        self.block = block

    def __getitem__(self, key: int) -> dict[str, Any]:
        block = self.block
        return {"id": block.get("id"), "type": "function", "function": {
            "name": block.get("name"), "arguments": orjson.dumps(block.get("input") or {}).decode()}}

    def __setitem__(self, key: int, value: dict[str, Any]) -> None:
        found = value.get("function")
        function: dict[str, Any] = found if isinstance(found, dict) else {}
        if value.get("id"):
            self.block["id"] = value["id"]
        if function.get("name"):
            self.block["name"] = function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                parsed = orjson.loads(arguments or "{}")
            except orjson.JSONDecodeError:
                raise BadRequestError("a guardrail rewrote a tool call's arguments into text that is not JSON") from None
            if isinstance(parsed, dict):
                self.block["input"] = parsed


def _blocks(blocks: list[Any], out: Extraction) -> None:
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            out.add_text(block, "text")
        elif kind == "image":
            _image(block.get("source"), out)
        elif kind == "tool_result":
            content = block.get("content")
            if isinstance(content, str):
                out.add_text(block, "content")
            elif isinstance(content, list):
                _blocks(content, out)
        elif kind == "tool_use":
            out.add_tool_call(_ToolUse(block), 0)
        elif kind == "document":
            source = block.get("source")
            if isinstance(source, dict) and source.get("type") == "text" and isinstance(source.get("data"), str):
                out.add_text(source, "data")


def _image(source: Any, out: Extraction) -> None:
    if not isinstance(source, dict):
        return
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        out.add_image(source, "url")
    elif source.get("type") == "base64" and isinstance(source.get("data"), str):
        out.add_image(_DataURL(source), "url")


def _content(holder: dict[str, Any], key: str, out: Extraction) -> None:
    value = holder.get(key)
    if isinstance(value, str):
        out.add_text(holder, key)
    elif isinstance(value, list):
        _blocks(value, out)


def _openai_tools(tools: list[Any]) -> list[Any]:
    """The tools as a guardrail service sees them on chat (function tools; server tools as sent)."""
    out: list[Any] = []
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") in (None, "custom"):
            function = {"name": tool.get("name"), "parameters": tool.get("input_schema") or {}}
            if tool.get("description"):
                function["description"] = tool["description"]
            out.append({"type": "function", "function": function})
        else:
            out.append(tool)
    return out


class AnthropicMessages:
    """The ``/v1/messages`` format (module docstring)."""

    name = "anthropic_messages"
    translates = True
    metadata_fields: tuple[str, ...] = ("user_id",)

    stream: MessageEvents

    def __init__(self) -> None:
        self.stream = MessageEvents()

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        model = data.get("model")
        out = Extraction(model=model if isinstance(model, str) else None)
        _content(data, "system", out)
        messages = data.get("messages")
        if isinstance(messages, list):
            for message in messages:
                if isinstance(message, dict):
                    _content(message, "content", out)
            try:
                out.structured_messages = to_openai_request(data)["messages"]
            except BadRequestError:
                out.structured_messages = None
        tools = data.get("tools")
        if isinstance(tools, list) and tools:
            out.tools = _openai_tools(tools)
        return out

    def extract_response(self, answer: dict[str, Any]) -> Extraction:
        model = answer.get("model")
        out = Extraction(model=model if isinstance(model, str) else None)
        _content(answer, "content", out)
        return out

    def answer_text(self, answer: dict[str, Any]) -> str | None:
        """The answer's text blocks, joined (``None`` when it has none: tool calls only)."""
        content = answer.get("content")
        if not isinstance(content, list):
            return None
        texts = [b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text"
                 and isinstance(b.get("text"), str)]
        return "".join(texts) if texts else None

    def restamp(self, answer: dict[str, Any], model: str) -> None:
        if "model" in answer:
            answer["model"] = model

    def rejection(self, message: str, model: str | None) -> dict[str, Any]:
        return {"id": f"msg_{uuid.uuid4().hex}", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": message}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0}}

    def error_body(self, error: GatewayError, call_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "error", "error": {"type": anthropic_error_type(error), "message": error.message}}
        if call_id:
            body["request_id"] = call_id
        return body

    def to_provider(self, body: dict[str, Any]) -> dict[str, Any]:
        """The OpenAI chat request for a translated deployment (Anthropic-only fields left out)."""
        out = to_openai_request(body)
        for key in _ANTHROPIC_ONLY:
            out.pop(key, None)
        effort = _effort(body.get("thinking"))
        if effort is not None and "reasoning_effort" not in out:
            out["reasoning_effort"] = effort
        for tool in out.get("tools") or ():
            if tool.get("type") != "function":
                raise BadRequestError(f"tools: the tool type '{tool.get('type')}' is served only by deployments "
                                      "that speak Anthropic's Messages API natively", param="tools")
        return out

    def from_provider(self, answer: dict[str, Any]) -> dict[str, Any]:
        return to_anthropic_response(answer)

    def __repr__(self) -> str:
        return f"<format {self.name}>"


def _effort(thinking: Any) -> str | None:
    """``thinking`` → ``reasoning_effort`` for a translated deployment (budget ≥ 10000 high, ≥ 5000 medium, else low)."""
    if not isinstance(thinking, dict) or thinking.get("type") == "disabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool):
        return "medium"
    return "high" if budget >= 10000 else "medium" if budget >= 5000 else "low"


MESSAGES = AnthropicMessages()


def estimate_input_tokens(body: Mapping[str, Any]) -> int:
    """``/v1/messages/count_tokens`` without a native deployment: about four characters per token over the
    system prompt, every message's text and the tools' JSON, plus a few tokens per message."""
    text = _all_text(body.get("system"))
    messages = body.get("messages")
    count = 0
    for message in messages if isinstance(messages, list) else ():
        count += 4
        text += _all_text(message.get("content") if isinstance(message, dict) else None)
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        text += orjson.dumps(tools).decode()
    return count + (len(text) + 3) // 4


def _all_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_all_text(item) for item in value)
    if isinstance(value, dict):
        kind = value.get("type")
        if kind == "tool_use":
            return str(value.get("name") or "") + orjson.dumps(value.get("input") or {}).decode()
        if kind == "thinking":
            return str(value.get("thinking") or "")
        return _all_text(value.get("text")) + _all_text(value.get("content"))
    return ""
