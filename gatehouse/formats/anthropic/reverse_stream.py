"""OpenAI ``chat.completion.chunk`` payloads → Anthropic stream events (for ``/v1/messages``).

One :class:`ChunkTranslator` per stream: :meth:`~ChunkTranslator.chunk` for each chunk,
:meth:`~ChunkTranslator.end` once the chunks are over; each returns the events to send,
which :func:`sse_event` frames as Anthropic does (``event: <type>\\ndata: <json>\\n\\n``).

==================================================  ===============================================
chunk                                               events
==================================================  ===============================================
the first one                                       ``message_start`` (usage 0: the real counts
                                                    come in ``message_delta``, as with LiteLLM)
``delta.reasoning_content``                         a ``thinking`` block, ``thinking_delta``
``delta.thinking_blocks[].signature``               ``signature_delta``
``delta.content``                                   a ``text`` block, ``text_delta``
``delta.tool_calls[]`` with ``id``                  a ``tool_use`` block (``content_block_start``)
``delta.tool_calls[].function.arguments``           ``input_json_delta``
``finish_reason``, ``usage``                        remembered for :meth:`end`
:meth:`end`                                         ``content_block_stop``, ``message_delta``
                                                    (``stop_reason``, usage), ``message_stop``
==================================================  ===============================================
"""

from __future__ import annotations

import uuid
from typing import Any, Mapping

import orjson

from .reverse import STOP_REASONS, anthropic_usage

__all__ = ["ChunkTranslator", "sse_event"]


def sse_event(event: Mapping[str, Any]) -> bytes:
    """One Anthropic server-sent event."""
    return b"event: " + str(event.get("type")).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class ChunkTranslator:
    """OpenAI chunks → Anthropic events, for one stream."""

    def __init__(self, model: str | None, *, message_id: str | None = None) -> None:
        self.model = model
        self.message_id = message_id or f"msg_{uuid.uuid4().hex}"
        self._started = False
        self._block: tuple[str, int] | None = None  # (kind, index) of the open content block
        self._index = -1
        self._tools: dict[int, int] = {}  # OpenAI tool call index → block index
        self._finish: str | None = None
        self._usage: Mapping[str, Any] | None = None

    def chunk(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        events = self._start()
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                events += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                events.append(self._delta({"type": "thinking_delta", "thinking": delta["reasoning_content"]}))
            for block in delta.get("thinking_blocks") or ():
                if isinstance(block, dict) and block.get("signature"):
                    events += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                    events.append(self._delta({"type": "signature_delta", "signature": block["signature"]}))
            if delta.get("content"):
                events += self._open("text", {"type": "text", "text": ""})
                events.append(self._delta({"type": "text_delta", "text": delta["content"]}))
            for call in delta.get("tool_calls") or ():
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return events

    def end(self) -> list[dict[str, Any]]:
        """The closing events: the open block's stop, ``message_delta`` and ``message_stop``."""
        events = self._start() + self._close()
        usage = anthropic_usage(self._usage)
        events.append({"type": "message_delta",
                       "delta": {"stop_reason": STOP_REASONS.get(self._finish or "stop", "end_turn"),
                                 "stop_sequence": None},
                       "usage": usage})
        events.append({"type": "message_stop"})
        return events

    def _start(self) -> list[dict[str, Any]]:
        if self._started:
            return []
        self._started = True
        message: dict[str, Any] = {"id": self.message_id, "type": "message", "role": "assistant", "model": self.model,
                   "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 0, "output_tokens": 0}}
        return [{"type": "message_start", "message": message}]

    def _open(self, kind: str, head: dict[str, Any]) -> list[dict[str, Any]]:
        if self._block is not None and self._block[0] == kind:
            return []
        events = self._close()
        self._index += 1
        self._block = (kind, self._index)
        return events + [{"type": "content_block_start", "index": self._index, "content_block": head}]

    def _close(self) -> list[dict[str, Any]]:
        if self._block is None:
            return []
        index = self._block[1]
        self._block = None
        return [{"type": "content_block_stop", "index": index}]

    def _delta(self, delta: dict[str, Any]) -> dict[str, Any]:
        assert self._block is not None
        return {"type": "content_block_delta", "index": self._block[1], "delta": delta}

    def _tool_call(self, call: Any) -> list[dict[str, Any]]:
        if not isinstance(call, dict):
            return []
        position = call.get("index", 0)
        function = call.get("function") or {}
        events: list[dict[str, Any]] = []
        if call.get("id") or position not in self._tools:
            events += self._close()
            self._index += 1
            self._block = ("tool", self._index)
            self._tools[position] = self._index
            events.append({"type": "content_block_start", "index": self._index, "content_block": {
                "type": "tool_use", "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
                "name": function.get("name") or "", "input": {}}})
        if function.get("arguments"):
            events.append({"type": "content_block_delta", "index": self._tools[position],
                           "delta": {"type": "input_json_delta", "partial_json": function["arguments"]}})
        return events
