"""OpenAI ``chat.completion.chunk`` payloads → Anthropic stream events (for ``/v1/messages``).

One :class:`ChunkTranslator` per stream: :meth:`~ChunkTranslator.chunk` for each chunk,
:meth:`~ChunkTranslator.end` once the chunks are over; each returns the events to send,
which :func:`sse_event` frames as Anthropic does (``event: <type>\\ndata: <json>\\n\\n``).

==================================================  ===============================================
chunk                                               events
==================================================  ===============================================
the first one                                       ``message_start`` (usage 0: the real counts
                                                    come in ``message_delta``, as with LiteLLM);
                                                    ``model`` is the chunk's when none was given
the first content block                             its ``content_block_start``, then one ``ping``
                                                    (where Anthropic sends its first)
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

import re
import uuid
from typing import Any, Mapping

import orjson

from .reverse import STOP_REASONS, anthropic_usage

__all__ = ["ChunkTranslator", "sse_event", "PING"]

#: Anthropic's keep-alive event (clients skip it).
PING: dict[str, Any] = {"type": "ping"}


#: An OpenAI chunk that is one text delta of choice 0 and nothing else (its JSON string captured).
_TEXT_DELTA = re.compile(rb'"choices":\[\{"index":0,"delta":\{"content":("(?:[^"\\]|\\.)+")\}'
                         rb'(?:,"logprobs":null)?,"finish_reason":null\}\]')
_DELTA_HEAD = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'

#: ``event: <type>\ndata: `` for each event type (made once).
_HEADS = {kind: b"event: " + kind.encode() + b"\ndata: " for kind in (
    "message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
    "message_stop", "ping", "error")}


def sse_event(event: Mapping[str, Any]) -> bytes:
    """One Anthropic server-sent event."""
    kind = event.get("type")
    head = _HEADS.get(kind) if isinstance(kind, str) else None
    if head is None:
        head = b"event: " + str(kind).encode() + b"\ndata: "
    return head + orjson.dumps(event) + b"\n\n"


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

    def feed(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        """:meth:`chunk` (the :class:`gatehouse.formats.base.Translator` interface)."""
        return self.chunk(chunk)

    def close(self) -> list[dict[str, Any]]:
        """:meth:`end` (the :class:`gatehouse.formats.base.Translator` interface)."""
        return self.end()

    def chunk(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        fast = self._text_only(chunk)
        if fast is not None:
            return fast
        if self.model is None and isinstance(chunk.get("model"), str):
            self.model = chunk["model"]
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

    def feed_raw(self, payload: bytes) -> bytes | None:
        """A chunk's payload that is only a text delta into the open text block, straight to its framed
        event (the JSON string copied as it is); ``None``: not one, use :meth:`feed`."""
        block = self._block
        if block is None or block[0] != "text" or b'"usage":{' in payload:
            return None
        found = _TEXT_DELTA.search(payload)
        if found is None:
            return None
        return b"%s%d,\"delta\":{\"type\":\"text_delta\",\"text\":%s}}\n\n" % (_DELTA_HEAD, block[1], found.group(1))

    def _text_only(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """The common chunk, a text delta into the open text block, on a short path (``None``: not one)."""
        block = self._block
        choices = chunk.get("choices")
        if block is None or block[0] != "text" or not choices or len(choices) != 1 or chunk.get("usage"):
            return None
        choice = choices[0]
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict) or choice.get("finish_reason") or choice.get("index", 0) != 0:
            return None
        text = delta.get("content")
        if not text or not isinstance(text, str) or len(delta) > (2 if "role" in delta else 1):
            return None
        return [{"type": "content_block_delta", "index": block[1], "delta": {"type": "text_delta", "text": text}}]

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
        events.append({"type": "content_block_start", "index": self._index, "content_block": head})
        if self._index == 0:
            events.append(dict(PING))
        return events

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
            if self._index == 0:
                events.append(dict(PING))
        if function.get("arguments"):
            events.append({"type": "content_block_delta", "index": self._tools[position],
                           "delta": {"type": "input_json_delta", "partial_json": function["arguments"]}})
        return events
