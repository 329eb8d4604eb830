"""ConverseStream events → OpenAI ``chat.completion.chunk`` payloads (pure, one translator per stream).

The provider decodes the AWS event-stream framing and hands each message's
``:event-type`` and JSON payload to :meth:`StreamTranslator.event`, which
returns the chunk payloads (bytes) to send:

    messageStart                      → delta {role: assistant, content: ""}
    contentBlockStart.start.toolUse   → delta.tool_calls[{index, id, type, function: {name, arguments: ""}}]
    contentBlockDelta.delta.text      → delta.content
    contentBlockDelta.delta.toolUse   → delta.tool_calls[{index, function: {arguments: <partial JSON>}}]
    contentBlockDelta.delta.reasoningContent → delta.reasoning_content (+ thinking_blocks for signatures)
    messageStop.stopReason            → the finish chunk (empty delta, finish_reason)
    metadata.usage                    → the usage chunk (``choices: []``) when include_usage
    contentBlockStop                  → nothing

Any other event type, or an exception message, raises :class:`UpstreamError`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from ..errors import UpstreamError
from .bedrock_converse import JSON_TOOL, error_from, finish_reason, usage

__all__ = ["StreamTranslator"]


class StreamTranslator:
    """State of one translated stream: the chunk envelope, tool-call indexes, whether it finished."""

    __slots__ = ("_head", "_tail", "_base", "include_usage", "json_tool", "_tools", "_json_blocks", "finished",
                 "_usage_sent")

    def __init__(self, model: str, *, include_usage: bool = False, json_tool: bool = False) -> None:
        cid, created = f"chatcmpl-{uuid.uuid4()}", int(time.time())
        self._base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
        self._head = (b'{"id":"' + cid.encode() + b'","object":"chat.completion.chunk","created":'
                      + str(created).encode() + b',"model":' + orjson.dumps(model)
                      + b',"choices":[{"index":0,"delta":')
        self._tail = b',"finish_reason":null}]}'
        self.include_usage = include_usage
        self.json_tool = json_tool
        self._tools: dict[int, int] = {}
        self._json_blocks: set[int] = set()
        self.finished = False
        self._usage_sent = False

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return self._head + orjson.dumps(delta) + self._tail

    def event(self, event_type: str | None, payload: Any) -> list[bytes]:
        """The chunk payloads for one ``:message-type: event`` message."""
        if not isinstance(payload, dict):
            raise UpstreamError(f"Bedrock sent a '{event_type}' event whose payload is not a JSON object", status=502)
        if event_type == "contentBlockDelta":
            return self._block_delta(payload)
        if event_type == "messageStart":
            return [self._delta({"role": "assistant", "content": ""})]
        if event_type == "contentBlockStart":
            return self._block_start(payload)
        if event_type == "contentBlockStop":
            return []
        if event_type == "messageStop":
            self.finished = True
            reason = finish_reason(payload.get("stopReason"), self.json_tool)
            return [self._head + b'{},"finish_reason":' + orjson.dumps(reason) + b"}]}"]
        if event_type == "metadata":
            if not self.include_usage or self._usage_sent:
                return []
            self._usage_sent = True
            return [orjson.dumps({**self._base, "choices": [], "usage": usage(payload.get("usage"))})]
        raise UpstreamError(f"Bedrock sent an unknown stream event '{event_type}'", status=502)

    def exception(self, exception_type: str | None, payload: bytes) -> UpstreamError:
        """The error for a ``:message-type: exception`` message (e.g. ``throttlingException``)."""
        status, etype, message = error_from(500, exception_type, payload)
        return UpstreamError(f"Bedrock stream error: {message}", status=status, type=etype)

    def _block_start(self, payload: dict[str, Any]) -> list[bytes]:
        use = (payload.get("start") or {}).get("toolUse")
        if not isinstance(use, dict):
            return []
        block = payload.get("contentBlockIndex", 0)
        if self.json_tool and use.get("name") == JSON_TOOL:
            self._json_blocks.add(block)
            return []
        index = self._tools[block] = len(self._tools)
        call = {"index": index, "id": use.get("toolUseId"), "type": "function",
                "function": {"name": use.get("name"), "arguments": ""}}
        return [self._delta({"tool_calls": [call]})]

    def _block_delta(self, payload: dict[str, Any]) -> list[bytes]:
        delta = payload.get("delta")
        if not isinstance(delta, dict):
            return []
        text = delta.get("text")
        if text is not None:
            return [self._delta({"content": text})] if text else []
        use = delta.get("toolUse")
        if isinstance(use, dict):
            block = payload.get("contentBlockIndex", 0)
            partial = str(use.get("input") or "")
            if block in self._json_blocks:
                return [self._delta({"content": partial})] if partial else []
            index = self._tools.get(block)
            if index is None:  # a delta without its start: open the call now
                index = self._tools[block] = len(self._tools)
            return [self._delta({"tool_calls": [{"index": index, "function": {"arguments": partial}}]})]
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            return self._reasoning(reasoning)
        return []  # citations, images: not part of the OpenAI chunk

    def _reasoning(self, reasoning: dict[str, Any]) -> list[bytes]:
        if reasoning.get("text") is not None:
            return [self._delta({"reasoning_content": reasoning["text"]})]
        if reasoning.get("signature") is not None:
            block = {"type": "thinking", "thinking": "", "signature": reasoning["signature"]}
            return [self._delta({"thinking_blocks": [block]})]
        if reasoning.get("redactedContent") is not None:
            block = {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
            return [self._delta({"thinking_blocks": [block]})]
        return []
