"""Anthropic's streamed Messages answer as a client-facing format (``/v1/messages`` with ``stream: true``).

Every frame is ``event: <type>\\ndata: <json with the same "type">\\n\\n`` (the
``anthropic`` SDK dispatches on the ``event:`` line); the stream ends with
``message_stop`` and has no end frame of its own::

    message_start        {"message": {"id", "model", "content": [], "usage", ...}}
    content_block_start  {"index", "content_block": {"type": "text", "text": ""} | tool_use | thinking}
    ping
    content_block_delta  {"index", "delta": text_delta | input_json_delta | thinking_delta | signature_delta}
    content_block_stop   {"index"}
    message_delta        {"delta": {"stop_reason", "stop_sequence"}, "usage"}
    message_stop
    error                {"error": {"type", "message"}}   (a failure after the first byte)

For the streaming guardrails' windows each content block is a "choice": a
block's text is what its ``text_delta`` events carry, a rewrite goes out as
a ``text_delta`` of the same block, before its ``content_block_stop``.
:meth:`MessageEvents.translator` turns a provider's OpenAI chunks into these
events (:class:`~.reverse_stream.ChunkTranslator`); a deployment that speaks
the format natively is relayed byte for byte.
"""

from __future__ import annotations

from typing import Any, Iterator

import orjson

from ..openai_common import ModelRestamper
from ..sse import EventSplitter, json_events
from .reverse_stream import ChunkTranslator, sse_event

__all__ = ["MessageEvents", "MessageSummary", "MessageRestamper", "find_error", "frame_payload"]


def frame_payload(payload: bytes) -> bytes:
    """An event already serialised (its ``type`` read from it) as one Anthropic frame."""
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        event = None
    kind = event.get("type") if isinstance(event, dict) else None
    return b"event: " + str(kind or "message").encode() + b"\ndata: " + payload + b"\n\n"


def _text_delta(event: dict[str, Any]) -> str:
    if event.get("type") != "content_block_delta":
        return ""
    delta = event.get("delta")
    if not isinstance(delta, dict) or delta.get("type") != "text_delta":
        return ""
    text = delta.get("text")
    return text if isinstance(text, str) else ""


def _index(event: dict[str, Any]) -> int:
    index = event.get("index")
    return index if isinstance(index, int) else 0


class MessageRestamper(ModelRestamper):
    """The client's model name in ``message_start`` (bytes or events)."""

    __slots__ = ()

    def event(self, event: dict[str, Any]) -> None:
        message = event.get("message")
        if self.model and event.get("type") == "message_start" and isinstance(message, dict):
            message["model"] = self.model


class MessageSummary:
    """What a stream said: its text, its usage and the message it assembles to."""

    __slots__ = ("_message", "_blocks", "_json", "_text", "_usage", "_stop")

    def __init__(self) -> None:
        self._message: dict[str, Any] = {}
        self._blocks: dict[int, dict[str, Any]] = {}
        self._json: dict[int, list[str]] = {}
        self._text: list[str] = []
        self._usage: dict[str, Any] | None = None
        self._stop: dict[str, Any] = {}

    def observe(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "content_block_delta":
            self._delta(_index(event), event.get("delta"))
        elif kind == "content_block_start" and isinstance(event.get("content_block"), dict):
            self._blocks[_index(event)] = dict(event["content_block"])
        elif kind == "message_start" and isinstance(event.get("message"), dict):
            self._message = event["message"]
            self._merge_usage(self._message.get("usage"))
        elif kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, dict):
                self._stop.update({k: delta.get(k) for k in ("stop_reason", "stop_sequence")})
            self._merge_usage(event.get("usage"))

    def _delta(self, index: int, delta: Any) -> None:
        if not isinstance(delta, dict):
            return
        block = self._blocks.setdefault(index, {"type": "text", "text": ""})
        kind = delta.get("type")
        if kind == "text_delta" and isinstance(delta.get("text"), str):
            block["text"] = (block.get("text") or "") + delta["text"]
            self._text.append(delta["text"])
        elif kind == "input_json_delta" and isinstance(delta.get("partial_json"), str):
            self._json.setdefault(index, []).append(delta["partial_json"])
        elif kind == "thinking_delta" and isinstance(delta.get("thinking"), str):
            block["thinking"] = (block.get("thinking") or "") + delta["thinking"]
        elif kind == "signature_delta":
            block["signature"] = delta.get("signature")

    def _merge_usage(self, usage: Any) -> None:
        if isinstance(usage, dict) and usage:
            self._usage = {**(self._usage or {}), **{k: v for k, v in usage.items() if v is not None}}

    def text(self) -> str:
        return "".join(self._text)

    def response(self, model: str | None) -> dict[str, Any]:
        content = []
        for index in sorted(self._blocks):
            block = self._blocks[index]
            if index in self._json:
                try:
                    block["input"] = orjson.loads("".join(self._json[index]) or "{}")
                except orjson.JSONDecodeError:
                    block["input"] = {}
            content.append(block)
        message = self._message
        return {"id": message.get("id"), "type": "message", "role": "assistant", "model": model or message.get("model"),
                "content": content, "stop_reason": self._stop.get("stop_reason"),
                "stop_sequence": self._stop.get("stop_sequence"), "usage": self._usage}


class MessageEvents:
    """The ``EventStream`` of ``/v1/messages`` (module docstring)."""

    end = b""
    end_marker = b""

    def frame(self, event: Any) -> bytes:
        if isinstance(event, (bytes, bytearray)):
            return frame_payload(bytes(event))
        return sse_event(event)

    def end_at(self, piece: bytes) -> int:
        return -1  # message_stop is an event like the others: relayed

    def events(self, raw: bytes) -> Iterator[dict[str, Any]]:
        return json_events(raw)

    def text(self, event: dict[str, Any]) -> str:
        return _text_delta(event)

    def texts(self, event: dict[str, Any]) -> list[tuple[int, str]]:
        text = _text_delta(event)
        return [(_index(event), text)] if text else []

    def summary(self) -> MessageSummary:
        return MessageSummary()

    def from_answer(self, answer: dict[str, Any]) -> list[dict[str, Any]]:
        """A complete message as the events Anthropic would have streamed for it."""
        usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
        head = {k: answer.get(k) for k in ("id", "type", "role", "model")}
        start_usage = {**usage, "output_tokens": 0} if usage else {"input_tokens": 0, "output_tokens": 0}
        events: list[dict[str, Any]] = [{"type": "message_start", "message": {
            **head, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}}]
        content = answer.get("content")
        for index, block in enumerate(content if isinstance(content, list) else []):
            if isinstance(block, dict):
                events += _block_events(index, block)
                if index == 0:
                    events.insert(2, {"type": "ping"})
        events.append({"type": "message_delta", "delta": {"stop_reason": answer.get("stop_reason"),
                                                          "stop_sequence": answer.get("stop_sequence")},
                       "usage": usage or {"output_tokens": 0}})
        events.append({"type": "message_stop"})
        return events

    def restamper(self, upstream_model: str | None, model: str | None) -> MessageRestamper:
        return MessageRestamper(upstream_model, model)

    def translator(self) -> ChunkTranslator:
        return ChunkTranslator(None)

    # -- edits for guardrail windows: each content block is a "choice" ---------------------------
    def template(self, event: dict[str, Any]) -> dict[str, Any] | None:
        message = event.get("message")
        if event.get("type") == "message_start" and isinstance(message, dict):
            return {"model": message.get("model")}
        return {}

    def text_event(self, template: dict[str, Any], index: int, text: str) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}

    def strip(self, event: dict[str, Any], indexes: set[int]) -> tuple[list[int], bool, bool]:
        if _text_delta(event) and _index(event) in indexes:
            return [_index(event)], False, False  # the event is its text: dropped
        return [], False, True

    def finishing(self, event: dict[str, Any]) -> list[int]:
        return [_index(event)] if event.get("type") == "content_block_stop" else []

    def put_text(self, event: dict[str, Any], index: int, text: str) -> None:
        block = event.get("content_block")
        if event.get("type") == "content_block_start" and isinstance(block, dict) and block.get("type") == "text":
            block["text"] = text


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    """One content block as start, delta(s), stop."""
    kind = block.get("type")
    if kind == "text":
        head: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": block.get("text") or ""}]
    elif kind == "tool_use":
        head = {"type": "tool_use", "id": block.get("id"), "name": block.get("name"), "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": orjson.dumps(block.get("input") or {}).decode()}]
    elif kind == "thinking":
        head = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": block.get("thinking") or ""},
                  {"type": "signature_delta", "signature": block.get("signature") or ""}]
    else:  # redacted thinking, server tool blocks: whole in their start event
        head, deltas = dict(block), []
    return ([{"type": "content_block_start", "index": index, "content_block": head}]
            + [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
            + [{"type": "content_block_stop", "index": index}])


def find_error(ready: bytes) -> tuple[bytes, dict[str, Any] | None]:
    """``(the events before an error event, the error event)`` in a run of complete events,
    or ``(ready, None)`` when there is none."""
    if b"error" not in ready:
        return ready, None
    at = 0
    for block in ready.split(b"\n\n"):
        for data in EventSplitter.payloads(block):
            try:
                event = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(event, dict) and event.get("type") == "error":
                return ready[:at], event
        at += len(block) + 2
    return ready, None
